"""Leads leave the queue: an inspection of the institution closes them with the record linked;
an official closes one as unfounded with a note; the next signal opens a new lead."""
from __future__ import annotations

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.events import make_event
from services.inspection.service import InspectionService
from tests.service.support import call
from tests.service.test_campaigns import T1, register, visit


def alert(config, container, alert_id, institution_id, kind="over_cap", raised_at="2021-11-01T02:00:00+00:00"):
    data = {"alert_id": alert_id, "institution_id": institution_id, "institution_name": f"机构{institution_id}",
            "township_code": T1, "kind": kind, "kind_name": "超限收费", "evidence": {"amount_fen": 640000},
            "raised_at": raised_at}
    with entrypoint_waiter(container, "on_escrow_alert_raised"):
        event_dispatcher(config)("escrow", "escrow_alert_raised", make_event("escrow", "escrow_alert_raised", data, T1))


def leads_of(container, actor, institution_id):
    return [lead for lead in call(container, "list_leads", actor)["items"] if lead["institution_id"] == institution_id]


@pytest.fixture
def inspection(start_services):
    return start_services(InspectionService)["inspection"]


def test_an_inspection_closes_the_open_leads_it_checked(config, inspection, token):
    register(config, inspection, 41, T1)
    alert(config, inspection, 1, 41)
    education = token("education")
    [lead] = leads_of(inspection, education, 41)
    assert lead["status"] == "open"
    record = call(inspection, "record_inspection", token("public_security"), visit(41))
    [closed] = leads_of(inspection, education, 41)
    assert (closed["status_name"], closed["resolution_name"], closed["record_id"]) == ("已办结", "已现场检查",
                                                                                         record["id"])
    assert closed["closed_by"]["department_kind"] == "public_security"
    alert(config, inspection, 2, 41, raised_at="2021-11-20T02:00:00+00:00")  # a new signal: a new lead
    fresh = [lead for lead in leads_of(inspection, education, 41) if lead["status"] == "open"]
    assert len(fresh) == 1 and fresh[0]["id"] != lead["id"] and fresh[0]["source_refs"] == [2]


def test_an_official_closes_a_lead_as_unfounded_with_a_note(config, inspection, token):
    register(config, inspection, 42, T1)
    alert(config, inspection, 3, 42)
    [lead] = leads_of(inspection, token("education"), 42)
    leader = token("education", roles=("leader",))
    with pytest.raises(ValidationFailed) as no_note:
        call(inspection, "close_lead", leader, lead["id"], {"resolution": "unfounded", "note": " "})
    assert no_note.value.field == "note"
    with pytest.raises(Forbidden):
        call(inspection, "close_lead", token("market_regulation"), lead["id"], {"resolution": "unfounded",
                                                                                "note": "已核实"})
    closed = call(inspection, "close_lead", leader, lead["id"], {"resolution": "unfounded",
                                                                 "note": "银行流水核对无误，属误报"})
    assert (closed["status"], closed["resolution_name"], closed["resolution_note"]) == (
        "closed", "经核查不属实", "银行流水核对无误，属误报")
    with pytest.raises(Conflict):
        call(inspection, "close_lead", leader, lead["id"], {"resolution": "referred", "note": "再次办结"})
