"""Issue 13 on the real bus: a schedule loaded at the registry (audited, announced) reaches
inspection, whose open order moves to the new deadline and stops being provisional."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from nameko.testing.services import entrypoint_waiter

from services.common import workcalendar
from services.common.calendar_file import read_schedule_text
from services.common.clock import frozen_at
from services.common.errors import Forbidden, ValidationFailed
from services.common.workdays import SHANGHAI
from services.escrow.service import EscrowService
from services.inspection.service import InspectionService
from services.registry.service import RegistryService
from tests.service.support import call
from tests.service.test_campaigns import T1, register, visit

SCHEDULE_2027 = read_schedule_text((Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv").read_text("utf-8"))


@pytest.fixture(autouse=True)
def _no_loaded_schedules():
    workcalendar.install({})
    yield
    workcalendar.install({})


def test_a_loaded_2027_schedule_moves_an_open_order_and_ends_its_provisional_flag(start_services, config, token,
                                                                                    system_token):
    services = start_services(RegistryService, InspectionService, EscrowService)
    registry, inspection, escrow = services["registry"], services["inspection"], services["escrow"]
    register(config, inspection, 1, T1)
    police, ops, education = token("public_security"), token("ops", roles=("admin", "clerk")), token("education")
    with frozen_at(datetime(2026, 12, 4, 10, tzinfo=SHANGHAI)):
        record = call(inspection, "record_inspection", police,
                      visit(1, outcome={"kind": "rectify", "deadline_workdays": 30}, fire_safety="无消防通道"))
    with frozen_at(datetime(2026, 12, 25, 10, tzinfo=SHANGHAI)):
        call(inspection, "submit_public_complaint", system_token, {"content": "周末补课", "township_code": T1})
    (complaint,) = call(inspection, "list_complaints", education)["items"]
    # 10 working days for 教体局 from Friday 2026-12-25, 元旦 off: 2027-01-11, provisional
    assert complaint["deadline_at"].startswith("2027-01-11T15:59:59") and complaint["deadline_provisional"]
    order = call(inspection, "get_order", police, record["order_id"])
    # 2027 has no official schedule yet: 元旦 (a Friday) is a holiday by law, the date is provisional
    assert order["deadline_at"].startswith("2027-01-18T15:59:59")  # 23:59:59 Beijing time, in UTC
    assert order["deadline_provisional"] is True

    with pytest.raises(Forbidden):  # loading is for admins of education or 运维
        call(registry, "load_calendar_schedule", token("education", roles=("leader",)), {"days": SCHEDULE_2027})
    with pytest.raises(ValidationFailed) as bad:  # a notice that forgot 春节: nothing stored
        call(registry, "load_calendar_schedule", ops,
             {"days": [d for d in SCHEDULE_2027 if d["name"] != "春节"]})
    assert "2027-02-05（春节）" in bad.value.message
    assert call(registry, "get_calendar", ops, 2027)["provisional"] is True

    with entrypoint_waiter(inspection, "on_calendar_schedule_loaded", timeout=10), \
            entrypoint_waiter(escrow, "on_calendar_schedule_loaded", timeout=10):
        loaded = call(registry, "load_calendar_schedule", ops, {"days": SCHEDULE_2027})
    assert loaded["loaded"] == [{"year": 2027, "version": 1, "rest_days": 31, "work_days": 4}]
    order = call(inspection, "get_order", police, record["order_id"])
    # the notice's make-up Saturday 2027-01-09 counts: due one working day earlier, and official
    assert order["deadline_at"].startswith("2027-01-15T15:59:59")
    assert order["deadline_provisional"] is False
    complaint = call(inspection, "get_complaint", education, complaint["id"])
    assert complaint["deadline_at"].startswith("2027-01-09T15:59:59") and not complaint["deadline_provisional"]

    year = call(registry, "get_calendar", ops, 2027)
    assert (year["source"], year["provisional"], year["version"]) == ("loaded", False, 1)
    assert {"date": "2027-01-09", "kind": "班", "name": "元旦调休上班"} in year["days"]
    trail = call(registry, "list_audit", ops, "calendar_year", "2027")
    assert [e["action"] for e in trail["items"]] == ["registry.load_calendar_schedule"]
