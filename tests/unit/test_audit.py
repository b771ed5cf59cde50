"""The audit trail's hash chain on SQLite: it verifies, and any edited or deleted entry is found."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from services.common.audit import GENESIS, AuditEntryMixin, AuditHeadMixin, AuditTrail, compute_hash, entry_fields
from services.common.identity import Actor, DepartmentKind


class Base(DeclarativeBase):
    pass


class AuditEntry(AuditEntryMixin, Base):
    pass


class AuditHead(AuditHeadMixin, Base):
    pass


trail = AuditTrail("unit", AuditEntry, AuditHead)

CLERK = Actor(user_id=3, username="jiaoti_clerk", display_name="李经办", department_id=2,
              department_kind=DepartmentKind.education, department_name="枞阳县教体局",
              division_code="340722", roles=("clerk",))


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine)() as s:
        for n in (1, 2, 3):
            before = None if n == 1 else {"id": 7, "status": "operating", "n": n - 1}
            trail.append(s, CLERK, "registry.change_institution_status", "institution", 7, before,
                         {"id": 7, "status": "suspended", "名称": "某某培训学校", "n": n}, division_code="340722100")
            s.commit()
        yield s
    engine.dispose()


def _bad(session) -> tuple[bool, int | None]:
    session.expire_all()
    result = trail.verify(session)
    return result["ok"], result["first_bad_seq"]


def test_a_chain_of_three_verifies(session):
    result = trail.verify(session)
    assert result == {"service": "unit", "entries": 3, "ok": True, "first_bad_seq": None, "reason": None,
                      "last_hash": result["last_hash"]}
    rows = session.query(AuditEntry).order_by(AuditEntry.seq).all()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert rows[0].before is None and rows[1].before["n"] == 1
    assert rows[2].department_kind == "education" and rows[2].actor_username == "jiaoti_clerk"
    assert rows[2].division_code == "340722100"
    assert rows[2].hash == compute_hash(rows[1].hash, entry_fields(rows[2])) == result["last_hash"]


def test_an_edited_field_is_found(session):
    session.execute(text("UPDATE audit_log SET actor_name = '王某' WHERE seq = 2"))
    session.commit()
    assert _bad(session) == (False, 2)


def test_an_edited_before_after_value_is_found(session):
    session.execute(text("""UPDATE audit_log SET "after" = '{"id": 7, "status": "operating"}' WHERE seq = 3"""))
    session.commit()
    assert _bad(session) == (False, 3)


def test_an_edited_hash_is_found(session):
    session.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 1"), {"h": "f" * 64})
    session.commit()
    assert _bad(session) == (False, 1)


def test_a_deleted_middle_entry_is_found(session):
    session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    session.commit()
    assert _bad(session) == (False, 2)


def test_a_deleted_last_entry_is_found(session):
    session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    session.commit()
    ok, seq = _bad(session)
    assert (ok, seq) == (False, 3)


def test_appending_after_a_rolled_back_change_leaves_no_gap(session):
    trail.append(session, CLERK, "registry.update_institution", "institution", 7, {"a": 1}, {"a": 2})
    session.rollback()  # the change failed: its entry goes with it
    trail.append(session, CLERK, "registry.update_institution", "institution", 7, {"a": 1}, {"a": 3})
    session.commit()
    result = trail.verify(session)
    assert result["ok"] and result["entries"] == 4


def test_list_is_limited_to_the_readers_division(session):
    assert trail.list(session, "340722", "institution", 7, 10, 0)["total"] == 3
    assert trail.list(session, "340722100", "institution", "7", 10, 0)["total"] == 3
    assert trail.list(session, "340723", "institution", 7, 10, 0)["total"] == 0
    assert trail.list(session, "340722", "institution", 8, 10, 0)["items"] == []
