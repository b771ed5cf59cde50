"""Issue 16 on a real (SQLite) gateway database built by its migrations, with an injected clock:
server-side sessions (idle and absolute timeouts, revocation on logout, password change and
disable), the password rule and the forced change of the generated admin password, and the
throttle buckets shared by two gateway processes (two engines on one database)."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from services.common.config import Deployment
from services.common.db import make_engine, migrate
from services.common.errors import Conflict, Forbidden, NotAuthenticated, ValidationFailed
from services.gateway import identity, ratelimit
from services.gateway.models import AuditEntry, User
from services.gateway.passwords import check_password_rule
from services.gateway.sessions import SessionStore


class Clock:
    def __init__(self):
        self.moment = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)

    def now(self):
        return self.moment

    def advance(self, **delta):
        self.moment += timedelta(**delta)


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    migrate("gateway", Path(identity.__file__).parent / "migrations", url)
    return url


@pytest.fixture
def db(url):
    s = sessionmaker(bind=make_engine(url), expire_on_commit=False)()
    identity.bootstrap(s, Deployment("340722", "枞阳县"), "admin", "generated-Admin-pw1")
    yield s
    s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    return SessionStore(idle=timedelta(minutes=30), absolute=timedelta(hours=8), clock=clock)


def _admin(db):
    return identity.authenticate(db, {"username": "admin", "password": "generated-Admin-pw1"})


def test_a_session_lives_while_used_and_ends_after_30_idle_minutes(db, store, clock):
    user, _ = _admin(db)
    token = store.issue(db, user.id, "10.0.0.1")
    assert store.read(db, token).user_id == user.id
    for _ in range(4):  # used every 20 minutes: still alive after 80 minutes
        clock.advance(minutes=20)
        store.read(db, token)
    clock.advance(minutes=30)
    with pytest.raises(NotAuthenticated) as info:
        store.read(db, token)
    assert "30分钟未操作" in info.value.message
    clock.advance(minutes=-30)  # and it stays ended even if the clock were set back
    with pytest.raises(NotAuthenticated):
        store.read(db, token)


def test_a_session_ends_after_8_hours_however_busy(db, store, clock):
    user, _ = _admin(db)
    token = store.issue(db, user.id)
    for _ in range(16):
        clock.advance(minutes=29)
        store.read(db, token)
    clock.advance(minutes=30)  # 8 h 14 min after login
    with pytest.raises(NotAuthenticated) as info:
        store.read(db, token)
    assert "过期" in info.value.message


def test_the_database_holds_only_the_digest_and_a_new_token_per_login(db, store):
    user, _ = _admin(db)
    first, second = store.issue(db, user.id), store.issue(db, user.id)
    assert first != second and len(first) >= 40
    from services.gateway.models import LoginSession

    ids = {row.id for row in db.query(LoginSession)}
    assert first not in ids and second not in ids and len(ids) == 2
    with pytest.raises(NotAuthenticated):
        store.read(db, "not-a-token-of-ours-at-all-xxxxxxxx")


def test_logout_and_password_change_end_sessions(db, store):
    user, dept = _admin(db)
    a, b = store.issue(db, user.id), store.issue(db, user.id)
    store.revoke(db, a, "logout")
    with pytest.raises(NotAuthenticated):
        store.read(db, a)
    store.read(db, b)
    identity.change_password(db, user, dept, {"current_password": "generated-Admin-pw1",
                                              "new_password": "县教体局 2026 新密码"},
                             lambda uid: store.revoke_user(db, uid, "password_changed"))
    with pytest.raises(NotAuthenticated):
        store.read(db, b)
    assert identity.authenticate(db, {"username": "admin", "password": "县教体局 2026 新密码"})[0].id == user.id
    entry = db.query(AuditEntry).filter(AuditEntry.action == "identity.change_password").one()
    assert entry.after == {"username": "admin", "forced": True, "sessions_ended": 1}


def test_the_generated_admin_password_must_be_changed_first(db):
    user, dept = _admin(db)
    assert user.must_change_password
    with pytest.raises(Forbidden) as info:
        identity.require_password_changed(user)
    assert info.value.code == "password_change_required"
    end = lambda uid: 0  # noqa: E731
    cases = [({"current_password": "wrong-password-1", "new_password": "another-good-one"}, "current_password"),
             ({"current_password": "generated-Admin-pw1", "new_password": "short"}, "new_password"),
             ({"current_password": "generated-Admin-pw1", "new_password": "generated-Admin-pw1"}, "new_password"),
             ({"current_password": "generated-Admin-pw1", "new_password": "my-admin-password"}, "new_password")]
    for body, field in cases:
        with pytest.raises(ValidationFailed) as info:
            identity.change_password(db, user, dept, body, end)
        assert info.value.field == field
        db.rollback()
    assert db.get(User, user.id).must_change_password  # nothing stored by a refused change
    identity.change_password(db, user, dept, {"current_password": "generated-Admin-pw1",
                                              "new_password": "a-long-passphrase"}, end)
    identity.require_password_changed(db.get(User, user.id))


def test_password_rule():
    for bad in ("short", "x" * 129, " " * 12, "password1234", "aaaaaaaaaaaaaaa", "ababababababab"):
        with pytest.raises(ValidationFailed):
            check_password_rule(bad)
    with pytest.raises(ValidationFailed) as info:
        check_password_rule("wangfang-2026-pw", username="WangFang")
    assert "用户名" in info.value.message
    assert check_password_rule("教体局双减专班 2026") == "教体局双减专班 2026"


def test_disabling_a_user_ends_the_sessions_and_is_audited(db, store):
    user, dept = _admin(db)
    admin = identity.actor_for(user, dept)
    made = identity.create_user(db, admin, {"username": "jtclerk", "password": "password-1234",
                                            "department_id": dept.id, "roles": ["clerk"]})
    token = store.issue(db, made["id"])
    end = lambda uid: store.revoke_user(db, uid, "user_disabled")  # noqa: E731
    with pytest.raises(Conflict):
        identity.set_user_active(db, admin, admin.user_id, False, end)
    view = identity.set_user_active(db, admin, made["id"], False, end)
    assert view["active"] is False
    with pytest.raises(NotAuthenticated):
        store.read(db, token)
    with pytest.raises(NotAuthenticated):
        identity.authenticate(db, {"username": "jtclerk", "password": "password-1234"})
    entry = db.query(AuditEntry).filter(AuditEntry.action == "identity.disable_user").one()
    assert entry.after["sessions_ended"] == 1 and entry.actor_username == "admin"


def test_failed_logins_count_together_across_two_gateway_processes(url, clock):
    """Two engines on one database stand for two replicas: 5 failures in all, whichever served."""
    one = sessionmaker(bind=make_engine(url))()
    two = sessionmaker(bind=make_engine(url))()
    buckets = ratelimit.SharedBuckets("login", 5, 900, clock=clock)
    original = ratelimit.failed_logins
    ratelimit.failed_logins = buckets
    try:
        for i in range(5):
            db = (one, two)[i % 2]
            assert ratelimit.login_wait(db, "wang", "10.0.0.1") == 0
            ratelimit.login_failed(db, "wang", "10.0.0.1")
        assert ratelimit.login_wait(one, "wang", "10.0.0.1") == 180
        assert ratelimit.login_wait(two, "WANG ", "10.0.0.1") == 180  # the same user however typed
        assert ratelimit.login_wait(two, "wang", "10.0.0.2") == 0  # another client is not locked out
        assert ratelimit.login_wait(one, "li", "10.0.0.1") == 0
        clock.advance(seconds=180)
        assert ratelimit.login_wait(two, "wang", "10.0.0.1") == 0
        ratelimit.login_succeeded(one, "wang", "10.0.0.1")
        assert buckets.wait(two, "wang|10.0.0.1") == 0
        assert "分钟后再试" in ratelimit.login_throttled_message(180)
    finally:
        ratelimit.failed_logins = original
        one.close()
        two.close()


def test_public_form_limit_is_shared_and_refills(url, clock):
    one = sessionmaker(bind=make_engine(url))()
    two = sessionmaker(bind=make_engine(url))()
    buckets = ratelimit.SharedBuckets("public_submit", 5, 600, clock=clock)
    assert [buckets.take((one, two)[i % 2], "1.2.3.4") for i in range(5)] == [0.0] * 5
    assert buckets.take(two, "1.2.3.4") == pytest.approx(120)
    assert buckets.take(one, "5.6.7.8") == 0.0
    clock.advance(seconds=120)
    assert buckets.take(one, "1.2.3.4") == 0.0
    one.close()
    two.close()


def test_cookies_and_answers_under_tls(monkeypatch):
    from werkzeug.wrappers import Response

    from services.gateway.api import json_response
    from services.gateway.sessions import clear_session_cookie, set_session_cookie

    plain = Response("")
    set_session_cookie(plain, "t" * 43, 28800)
    assert "Secure" not in plain.headers["Set-Cookie"] and "HttpOnly" in plain.headers["Set-Cookie"]
    assert json_response({}).headers["X-Content-Type-Options"] == "nosniff"
    assert json_response({}).headers["Cache-Control"] == "no-store"
    monkeypatch.setenv("SHUANGJIAN_SECURE_COOKIES", "1")
    secure = Response("")
    set_session_cookie(secure, "t" * 43, 28800)
    cookie = secure.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    clear_session_cookie(secure)
    assert all("Secure" in c for c in secure.headers.getlist("Set-Cookie"))
    assert json_response({}).headers["Strict-Transport-Security"] == "max-age=31536000"


def test_retry_after_rounds_up_to_whole_seconds():
    assert ratelimit.retry_after(119.2) == 120 and ratelimit.retry_after(0.01) == 1
