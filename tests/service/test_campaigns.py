"""Campaigns, inspection records and orders on the real bus and database: a sweep's coverage
reaches 100% only when every institution was visited; a 双随机 draw is reproduced by its seed; a
failed inspection with 停业整顿 announces inspection_order_issued, a pass announces nothing; the
follow-up RPCs (platform only) are idempotent; refused evidence leaves nothing behind."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.config import var_dir
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.events import make_event
from services.common.workdays import SHANGHAI
from services.inspection import campaign_rules as rules
from services.inspection.service import InspectionService
from tests.service.support import call, captured

T1, T2 = "340722100", "340722101"
TEAM = [{"department_kind": "education", "name": "王老师"}, {"department_kind": "public_security", "name": "张警官"},
        {"department_kind": "market_regulation", "name": "李科长"}]


def register(config, container, iid, township, category="academic"):
    data = {"id": iid, "name": f"机构{iid}", "township_code": township, "status": "operating", "category": category,
            "registered_on": "2021-06-01", "version": 1,
            "history": [{"status": "operating", "effective_on": "2021-06-01", "seq": iid}]}
    with entrypoint_waiter(container, "on_institution_registered"):
        event_dispatcher(config)("registry", "institution_registered",
                                 make_event("registry", "institution_registered", data, township))


def window():
    today = datetime.now(SHANGHAI).date()
    return (today - timedelta(days=3)).isoformat(), (today + timedelta(days=3)).isoformat()


def checklist(**fails):
    items = {k: {"result": "pass"} for k in rules.CHECKLIST}
    items.update({k: {"result": "fail", "notes": note} for k, note in fails.items()})
    return items


def visit(iid, campaign_id=None, outcome=None, **fails):
    return {"institution_id": iid, "campaign_id": campaign_id, "mode": "covert",
            "inspectors": TEAM[:2], "checklist": checklist(**fails), "outcome": outcome or {"kind": "pass"}}


@pytest.fixture
def inspection(start_services):
    return start_services(InspectionService)["inspection"]


def test_sweep_coverage_reaches_100_only_when_every_institution_was_visited(config, inspection, token):
    for iid, town in ((1, T1), (2, T1), (3, T2)):
        register(config, inspection, iid, town)
    education, police = token("education"), token("public_security")
    start, end = window()
    campaign = {"name": "国庆暗访", "kind": "sweep", "mode": "covert", "townships": [T1, T2],
                "start_date": start, "end_date": end, "team": TEAM}
    with pytest.raises(Forbidden):  # campaigns are education's
        call(inspection, "create_campaign", police, campaign)
    with pytest.raises(ValidationFailed) as info:
        call(inspection, "create_campaign", education, {**campaign, "team": [{"department_kind": "ops", "name": "x"}]})
    assert info.value.field == "team[0].department_kind"
    created = call(inspection, "create_campaign", education, campaign)
    assert created["scope_ids"] == [1, 2, 3] and created["seed"] is None
    cid = created["id"]

    cov = call(inspection, "campaign_coverage", education, cid)
    assert cov["coverage"] == 0.0 and not cov["complete"]
    call(inspection, "record_inspection", police, visit(1, cid))
    call(inspection, "record_inspection", police, visit(1, cid))  # a second visit counts once
    call(inspection, "record_inspection", police, visit(3, cid))
    call(inspection, "record_inspection", police, visit(2))  # standalone: not this campaign's
    cov = call(inspection, "campaign_coverage", education, cid)
    towns = {t["township_code"]: t for t in cov["townships"]}
    assert (towns[T1]["visited"], towns[T1]["in_scope"], towns[T1]["coverage"], towns[T1]["complete"]) == (1, 2, 50.0, False)
    assert towns[T1]["not_visited"] == [2]
    assert towns[T2]["coverage"] == 100.0 and towns[T2]["complete"]
    assert cov["coverage"] == 66.6 and not cov["complete"]

    call(inspection, "record_inspection", police, visit(2, cid))
    cov = call(inspection, "campaign_coverage", education, cid)
    assert cov["coverage"] == 100.0 and cov["complete"]
    assert all(t["coverage"] == 100.0 and t["complete"] for t in cov["townships"])

    with pytest.raises(Forbidden):  # a township official of another township
        call(inspection, "record_inspection", token("township", division=T2), visit(1, cid))


def test_draw_is_reproduced_by_its_seed(config, inspection, token):
    for iid in range(1, 31):
        register(config, inspection, iid, T1, "academic" if iid % 2 else "arts")  # grades C and B
    education = token("education")
    start, end = window()
    base = {"name": "双随机抽查", "kind": "random", "mode": "open", "townships": [T1],
            "start_date": start, "end_date": end, "team": TEAM}
    first = call(inspection, "create_campaign", education, {**base, "seed": 424242})
    again = call(inspection, "create_campaign", education, {**base, "seed": 424242})
    other = call(inspection, "create_campaign", education, {**base, "seed": 7})
    assert first["seed"] == 424242 and first["drawn_ids"] == again["drawn_ids"]
    assert first["drawn_ids"] != other["drawn_ids"]
    assert len(first["drawn_ids"]) == 2 + 3  # 10% of 15 B → 2, 20% of 15 C → 3
    assert first["scope_ids"] == first["drawn_ids"]
    check = call(inspection, "reproduce_draw", education, first["id"])
    assert check["matches"] and check["recomputed_ids"] == first["drawn_ids"] and check["seed"] == 424242
    generated = call(inspection, "create_campaign", education, base)  # no seed given: one is made and kept
    assert isinstance(generated["seed"], int)
    assert call(inspection, "reproduce_draw", education, generated["id"])["matches"]
    outside = next(i for i in range(1, 31) if i not in first["drawn_ids"])
    with pytest.raises(Conflict):  # not drawn: not in this campaign
        call(inspection, "record_inspection", education, visit(outside, first["id"]))


def test_failed_inspection_issues_an_order_and_a_pass_none(config, inspection, token, system_token):
    register(config, inspection, 11, T1)
    register(config, inspection, 12, T1)
    urban = token("urban_management")
    events = ("inspection_order_issued", "reinspection_recorded", "order_escalated", "order_closed")
    with captured(config, "inspection", *events) as got:
        passed = call(inspection, "record_inspection", urban, visit(12))
        assert passed["outcome"] == "pass" and passed["order_id"] is None
        record = call(inspection, "record_inspection", urban, visit(
            11, outcome={"kind": "suspend", "deadline_workdays": 15},
            fire_safety="安全出口堵塞", academic_on_rest_days="国庆期间开展数学培训"))
        oid = record["order_id"]
        assert record["findings"] == ["fire_safety", "academic_on_rest_days"]
        with pytest.raises(Forbidden):  # follow-up is the platform's
            call(inspection, "close_order", urban, oid)
        task = call(inspection, "create_reinspection_task", system_token, oid)
        assert task["reinspection_due_at"] and task["status"] == "open"
        assert call(inspection, "create_reinspection_task", system_token, oid)["history"] == task["history"]
        with pytest.raises(ValidationFailed):
            call(inspection, "record_reinspection", urban, oid, {"passed": False})
        call(inspection, "record_reinspection", urban, oid, {"passed": False, "notes": "仍在培训"})
        escalated = call(inspection, "escalate_order", system_token, oid)
        assert escalated["status"] == "escalated"
        assert call(inspection, "escalate_order", system_token, oid)["history"] == escalated["history"]
        with pytest.raises(Conflict):
            call(inspection, "close_order", system_token, oid)
        assert [s["action"] for s in escalated["history"]] == ["issued", "reinspection_due", "reinspected", "escalated"]
        assert all(s["at"] and s["by"] for s in escalated["history"])
    issued = got["inspection_order_issued"]
    assert len(issued) == 1  # the pass issued nothing
    data = issued[0]
    assert set(data) == {"order_id", "institution_id", "institution_name", "township_code", "kind",
                         "deadline_workdays", "issued_at", "findings"}
    assert (data["order_id"], data["institution_id"], data["kind"], data["deadline_workdays"], data["township_code"]) == \
        (oid, 11, "suspend", 15, T1)
    assert data["findings"] == ["fire_safety", "academic_on_rest_days"] and data["issued_at"].endswith("+00:00")
    assert got["reinspection_recorded"] == [{"order_id": oid, "institution_id": 11, "township_code": T1,
                                             "kind": "suspend", "passed": False,
                                             "recorded_at": got["reinspection_recorded"][0]["recorded_at"]}]
    assert got["order_escalated"] == [{"order_id": oid, "institution_id": 11, "township_code": T1,
                                       "proposal": "吊销办学许可证"}]
    assert got["order_closed"] == []


def test_close_order_is_idempotent(config, inspection, token, system_token):
    register(config, inspection, 21, T1)
    market = token("market_regulation")
    record = call(inspection, "record_inspection", market, visit(21, outcome={"kind": "rectify"},
                                                                 licences_and_scope="超范围经营"))
    order = call(inspection, "get_order", market, record["order_id"])
    assert order["kind"] == "rectify" and order["deadline_workdays"] == 10 and order["status"] == "open"
    with captured(config, "inspection", "order_closed") as got:
        call(inspection, "record_reinspection", market, order["id"], {"passed": True})
        call(inspection, "close_order", system_token, order["id"])
        assert call(inspection, "close_order", system_token, order["id"])["status"] == "closed"
    assert got["order_closed"] == [{"order_id": order["id"], "institution_id": 21, "township_code": T1,
                                    "kind": "rectify"}]
    with pytest.raises(Conflict):
        call(inspection, "record_reinspection", market, order["id"], {"passed": True})


def test_evidence_refusals_store_nothing(config, inspection, token):
    register(config, inspection, 31, T1)
    police = token("public_security")
    rid = call(inspection, "record_inspection", police, visit(31))["id"]
    gif = b"GIF89a" + b"\x00" * 100
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (5 * 1024 * 1024)
    for content in (gif, big):
        with pytest.raises(ValidationFailed) as info:
            call(inspection, "add_evidence", police, rid, {"content_b64": base64.b64encode(content).decode()})
        assert info.value.field == "content_b64"
        assert not (var_dir() / "evidence" / hashlib.sha256(content).hexdigest()).exists()
    assert call(inspection, "get_inspection_record", police, rid)["evidence"] == []

    png = b"\x89PNG\r\n\x1a\n" + b"photo" * 10
    stored = call(inspection, "add_evidence", police, rid, {"content_b64": base64.b64encode(png).decode(),
                                                           "filename": "现场.png"})
    digest = hashlib.sha256(png).hexdigest()
    assert (stored["sha256"], stored["size"], stored["content_type"]) == (digest, len(png), "image/png")
    assert (var_dir() / "evidence" / digest).read_bytes() == png
    assert [e["sha256"] for e in call(inspection, "get_inspection_record", police, rid)["evidence"]] == [digest]
