"""Identity use cases on a real (SQLite) database built by the gateway's own migrations."""
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from services.common.config import Deployment
from services.common.db import make_engine, migrate
from services.common.errors import Conflict, Forbidden, NotAuthenticated, ValidationFailed
from services.gateway import identity
from services.gateway.models import User


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    migrate("gateway", Path(identity.__file__).parent / "migrations", url)
    s = sessionmaker(bind=make_engine(url), expire_on_commit=False)()
    identity.bootstrap(s, Deployment("340722", "枞阳县"), "admin", "admin-password-1")
    yield s
    s.close()


def admin(session):
    user, dept = identity.authenticate(session, {"username": "admin", "password": "admin-password-1"})
    return identity.actor_for(user, dept)


def test_bootstrap_is_idempotent_and_hashes_the_password(session):
    identity.bootstrap(session, Deployment("340722", "枞阳县"), "admin", "admin-password-1")
    users = session.query(User).all()
    assert len(users) == 1
    assert users[0].password_hash.startswith("$argon2") and "admin-password-1" not in users[0].password_hash


def test_wrong_password_and_unknown_user_get_the_same_answer(session):
    for creds in ({"username": "admin", "password": "nope-nope"}, {"username": "ghost", "password": "nope-nope"}):
        with pytest.raises(NotAuthenticated) as info:
            identity.authenticate(session, creds)
        assert info.value.message == "用户名或密码错误"


def test_admin_builds_a_county_and_a_user_who_can_log_in(session):
    boss = admin(session)
    identity.create_division(session, boss, {"code": "340722100", "name": "枞阳镇"})
    dept = identity.create_department(session, boss, {"division_code": "340722", "kind": "civil_affairs"})
    assert dept["name"] == "民政局"
    created = identity.create_user(session, boss, {
        "username": "mzleader", "password": "password-123", "department_id": dept["id"], "roles": ["leader"]})
    user, d = identity.authenticate(session, {"username": "mzleader", "password": "password-123"})
    actor = identity.actor_for(user, d)
    assert actor.department_kind.value == "civil_affairs" and actor.division_code == "340722"
    assert created["roles"] == ["leader"]
    with pytest.raises(Conflict):
        identity.create_user(session, boss, {
            "username": "mzleader", "password": "password-123", "department_id": dept["id"], "roles": ["leader"]})


def test_non_admins_cannot_create_users(session):
    boss = admin(session)
    dept = identity.create_department(session, boss, {"division_code": "340722", "kind": "education"})
    identity.create_user(session, boss, {"username": "jtclerk", "password": "password-123",
                                         "department_id": dept["id"], "roles": ["clerk"]})
    user, d = identity.authenticate(session, {"username": "jtclerk", "password": "password-123"})
    with pytest.raises(Forbidden):
        identity.create_user(session, identity.actor_for(user, d), {
            "username": "x1", "password": "password-123", "department_id": dept["id"]})


def test_bad_user_fields_are_named(session):
    boss = admin(session)
    dept = identity.create_department(session, boss, {"division_code": "340722", "kind": "education"})
    cases = [({"username": "a"}, "username"), ({"password": "short"}, "password"),
             ({"roles": ["king"]}, "roles"), ({"department_id": "1"}, "department_id")]
    for override, field in cases:
        body = {"username": "okname", "password": "password-123", "department_id": dept["id"], "roles": ["clerk"]}
        body.update(override)
        with pytest.raises(ValidationFailed) as info:
            identity.create_user(session, boss, body)
        assert info.value.field == field
    with pytest.raises(ValidationFailed) as info:
        identity.create_department(session, boss, {"division_code": "340722", "kind": "tax"})
    assert info.value.field == "kind"


def test_divisions_outside_the_deployment_are_refused(session):
    with pytest.raises(Forbidden):
        identity.create_division(session, admin(session), {"code": "340721100", "name": "别县某镇"})
