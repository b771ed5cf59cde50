"""The audit anchor (issue 16): a chain shortened consistently (last entries deleted, head row set
back) still verifies on its own, and the anchor written before catches it; the anchor file
detects its own edits and removed lines."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from services.gateway.audit_anchor import AnchorLog, AnchorProblem, anchor_key, check
from tests.unit.test_audit import CLERK, session, trail  # noqa: F401  (the fixture: a 3-entry chain)


@pytest.fixture
def log(tmp_path):
    return AnchorLog(tmp_path / "anchors.jsonl", anchor_key("unit-actor-key"))


def _verify_against(session, log):  # noqa: F811
    anchor = log.latest()
    session.expire_all()
    result = trail.verify(session, at_seq=anchor["heads"]["unit"]["seq"])
    return result, check(result, anchor)


def test_deleting_the_last_entries_after_an_anchor_is_found(session, log):  # noqa: F811
    log.append({"unit": trail.head(session)})
    result, held = _verify_against(session, log)
    assert result["ok"] and held["ok"] and held["seq"] == 3
    trail.append(session, CLERK, "registry.note", "institution", 7, None, {"n": 4})
    session.commit()
    assert _verify_against(session, log)[1]["ok"]  # entries after the anchor are fine
    # someone with the database deletes entries 3 and 4 and sets the head back: consistent again
    session.execute(text("DELETE FROM audit_log WHERE seq >= 3"))
    last = session.execute(text("SELECT hash FROM audit_log WHERE seq = 2")).scalar_one()
    session.execute(text("UPDATE audit_head SET last_seq = 2, last_hash = :h"), {"h": last})
    session.commit()
    result, held = _verify_against(session, log)
    assert result["ok"]  # the chain alone cannot tell
    assert held["ok"] is False and "尾部条目被删除" in held["reason"]


def test_an_entry_rewritten_with_a_new_chain_after_it_is_found(session, log):  # noqa: F811
    log.append({"unit": trail.head(session)})
    session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    last = session.execute(text("SELECT hash FROM audit_log WHERE seq = 2")).scalar_one()
    session.execute(text("UPDATE audit_head SET last_seq = 2, last_hash = :h"), {"h": last})
    session.commit()
    trail.append(session, CLERK, "registry.note", "institution", 7, None, {"forged": True})  # a new 3rd
    session.commit()
    result, held = _verify_against(session, log)
    assert result["ok"] and held["ok"] is False and "哈希不符" in held["reason"]


def test_the_anchor_file_detects_edits_and_removed_lines(session, log):  # noqa: F811
    for _ in range(3):
        log.append({"unit": trail.head(session)})
    assert len(log.lines()) == 3
    lines = log.path.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["heads"]["unit"]["seq"] = 1
    log.path.write_text("\n".join([lines[0], lines[1], json.dumps(edited, ensure_ascii=False)]) + "\n")
    with pytest.raises(AnchorProblem, match="第3行签名不符"):
        log.lines()
    log.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(AnchorProblem, match="第2行与前一行不衔接"):
        log.lines()
    forged = AnchorLog(log.path, anchor_key("a-guessed-key"))
    log.path.write_text(lines[0] + "\n")
    with pytest.raises(AnchorProblem):
        forged.lines()


def test_a_later_anchor_does_not_bless_a_shortened_chain(tmp_path, log):
    """The scheduled anchor after a deletion keeps the old anchor for that chain, so verify keeps
    failing; the gateway's own chain here (no services asked)."""
    from pathlib import Path

    from sqlalchemy.orm import sessionmaker

    from services.common.config import Deployment
    from services.common.db import make_engine, migrate
    from services.gateway import audit_routes, identity

    url = f"sqlite:///{tmp_path / 'gw.db'}"
    migrate("gateway", Path(identity.__file__).parent / "migrations", url)
    db = sessionmaker(bind=make_engine(url), expire_on_commit=False)()
    identity.bootstrap(db, Deployment("340722", "枞阳县"), "admin", "generated-Admin-pw1")
    user, dept = identity.authenticate(db, {"username": "admin", "password": "generated-Admin-pw1"})
    admin = identity.actor_for(user, dept)
    for n in range(3):
        identity.create_user(db, admin, {"username": f"clerk{n}", "password": "password-1234",
                                         "department_id": dept.id, "roles": ["clerk"]})
    first = audit_routes.anchor_now(db, "unused", {}, log)
    assert first["heads"]["gateway"]["seq"] == 3 and first["mismatched"] == []
    db.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    last = db.execute(text("SELECT hash FROM audit_log WHERE seq = 2")).scalar_one()
    db.execute(text("UPDATE audit_head SET last_seq = 2, last_hash = :h"), {"h": last})
    db.commit()
    db.expire_all()
    second = audit_routes.anchor_now(db, "unused", {}, log)
    assert second["mismatched"] == ["gateway"] and second["heads"]["gateway"] == first["heads"]["gateway"]
    results, anchor = audit_routes.verify_all(db, admin, "unused", {}, log)
    assert anchor["problem"] is None and results[0]["ok"] is False and "尾部条目被删除" in results[0]["reason"]
    assert audit_routes.verify_status(results, anchor) == 409
    db.close()
