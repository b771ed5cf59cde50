"""An inspection's 停业整顿 order suspends the institution in the registry; closing it restores 正常营业."""
from __future__ import annotations

from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.events import make_event
from services.registry.service import RegistryService
from shuangjian.codes import make_uscc
from tests.service.support import call, tap_events


def order_event(event_type: str, order_id: int, institution_id: int, kind: str) -> dict:
    data = {"order_id": order_id, "institution_id": institution_id, "township_code": "340722100", "kind": kind,
            "deadline_workdays": 10, "issued_at": "2026-11-30T10:00:00+08:00", "findings": ["fire_safety"]}
    return make_event("inspection", event_type, data, "340722100")


def test_suspension_order_and_its_closing(start_services, config, token):
    registry = start_services(RegistryService)["registry"]
    education = token("education")
    created = call(registry, "register_institution", education, {
        "name": "枞阳县被查培训学校", "uscc": make_uscc(9901), "licence_no": "教民9901号", "licence_issued_on": "2020-01-01",
        "category": "学科类", "legal_form": "营利性", "township_code": "340722100", "address": "枞阳镇9号"})
    iid = created["id"]
    dispatch = event_dispatcher(config)

    with entrypoint_waiter(registry, "on_inspection_order_issued"):
        dispatch("inspection", "inspection_order_issued", order_event("inspection_order_issued", 1, iid, "rectify"))
    assert call(registry, "get_institution", education, iid)["status"] == "operating"  # 责令整改: no status change

    issued = order_event("inspection_order_issued", 2, iid, "suspend")
    with tap_events(config["AMQP_URI"], "registry", ["institution_status_changed"]) as tap:
        for _ in range(2):  # a redelivery changes nothing
            with entrypoint_waiter(registry, "on_inspection_order_issued"):
                dispatch("inspection", "inspection_order_issued", issued)
        changes = tap.drain(expect=1, seconds=3)
    detail = call(registry, "get_institution", education, iid)
    assert detail["status"] == "suspended_for_rectification"
    assert [b["data"]["status"] for _, b in changes] == ["suspended_for_rectification"]
    assert "停业整顿（检查执法决定 2）" == detail["history"][-1]["reason"]

    with entrypoint_waiter(registry, "on_inspection_order_closed"):
        dispatch("inspection", "order_closed", order_event("order_closed", 2, iid, "suspend"))
    detail = call(registry, "get_institution", education, iid)
    assert detail["status"] == "operating"
    assert detail["history"][-1]["reason"].startswith("整改到位，恢复营业")
