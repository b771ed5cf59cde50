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


# -- division names (issue 15): unique among a parent's children ------------------------------------


def test_a_second_township_with_the_same_name_is_refused(session):
    boss = admin(session)
    identity.create_division(session, boss, {"code": "340722100", "name": "枞阳镇"})
    for name in ("枞阳镇", " 枞阳　镇 "):
        with pytest.raises(Conflict) as info:
            identity.create_division(session, boss, {"code": "340722101", "name": name})
        assert info.value.field == "name"
        assert info.value.message == ("枞阳县已有名为“枞阳镇”的下级区划（340722100），同一上级下的区划名称不能重复")
    assert [d["code"] for d in identity.township_directory(session, boss)] == ["340722100"]
    identity.create_division(session, boss, {"code": "340722101", "name": "枞阳镇新区"})


def test_the_migration_renames_existing_duplicates_so_none_keeps_the_ambiguous_name(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(identity.__file__).parent / "migrations"))
    cfg.set_main_option("version_table", "alembic_version_gateway")
    cfg.attributes["url"] = url
    command.upgrade(cfg, "0001")  # a database from before the rule, holding what `division add` allowed
    engine = make_engine(url)
    with engine.begin() as db:
        for code, name, parent in [("340722", "枞阳县", None), ("340722100", "城关镇", "340722"),
                                   ("340722101", "城关镇", "340722"), ("340722102", "浮山镇", "340722")]:
            db.execute(text("INSERT INTO divisions VALUES (:c, :n, 'x', :p)"), {"c": code, "n": name, "p": parent})
        db.execute(text("INSERT INTO departments (division_code, kind, name) VALUES ('340722', 'ops', '运维')"))
    migrate("gateway", Path(identity.__file__).parent / "migrations", url)
    with engine.begin() as db:
        names = dict(db.execute(text("SELECT code, name FROM divisions")).all())
    assert names == {"340722": "枞阳县", "340722100": "城关镇（340722100）", "340722101": "城关镇（340722101）",
                     "340722102": "浮山镇"}
    with pytest.raises(IntegrityError), engine.begin() as db:
        db.execute(text("INSERT INTO divisions VALUES ('340722103', '浮山镇', 'township', '340722')"))
    engine.dispose()


def test_a_division_is_renamed_but_not_to_a_sibling_s_name(session):
    boss = admin(session)
    identity.create_division(session, boss, {"code": "340722100", "name": "枞阳镇"})
    identity.create_division(session, boss, {"code": "340722101", "name": "城关镇（340722101）"})
    with pytest.raises(Conflict) as info:
        identity.rename_division(session, boss, "340722101", {"name": "枞阳 镇"})
    assert "已有名为“枞阳镇”的下级区划（340722100）" in info.value.message
    assert identity.rename_division(session, boss, "340722101", {"name": "横埠镇"})["name"] == "横埠镇"
    assert identity.rename_division(session, boss, "340722100", {"name": "枞阳镇"})["name"] == "枞阳镇"  # itself
    with pytest.raises(Forbidden):
        identity.rename_division(session, boss, "340722", {"name": "别名县"})
    with pytest.raises(ValidationFailed):
        identity.rename_division(session, boss, "340722101", {"name": " "})
    assert {d["name"] for d in identity.township_directory(session, boss)} == {"枞阳镇", "横埠镇"}
