"""An institution registered in the registry reaches every service that needs it, once."""
from __future__ import annotations

import json
import time

import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, Forbidden, NotAuthenticated, ValidationFailed
from services.common.identity import ActorSigner, system_actor
from services.escrow.service import EscrowService
from services.inspection.service import InspectionService
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from shuangjian.codes import make_uscc
from tests.service.support import call


def registration(serial=1, **overrides):
    data = {
        "name": f"枞阳县测试培训学校{serial}",
        "uscc": make_uscc(serial),
        "licence_no": f"教民134072270000{serial}号",
        "category": "学科类",
        "legal_form": "营利性",
        "township_code": "340722100",
        "address": "枞阳镇渡江路1号",
    }
    data.update(overrides)
    return data


@pytest.fixture
def platform(start_services):
    return start_services(RegistryService, ReportingService, EscrowService, InspectionService)



def test_registered_institution_is_counted_checked_and_listed(platform, token):
    education = token("education")
    with entrypoint_waiter(platform["reporting"], "on_institution_registered"), \
         entrypoint_waiter(platform["escrow"], "on_institution_registered"), \
         entrypoint_waiter(platform["inspection"], "on_institution_registered"):
        created = call(platform["registry"], "register_institution", education, registration(1))

    assert created["status_name"] == "正常营业" and created["verification"] == "pending"
    counts = call(platform["reporting"], "get_institution_counts", education)
    assert counts["institutions_total"] == 1
    assert counts["institutions_academic"] == 1
    assert counts["status_counts"]["正常营业"] == 1
    eligibility = call(platform["escrow"], "get_enrolment_eligibility", education, created["id"])
    assert eligibility["may_enrol"] is True
    targets = call(platform["inspection"], "list_inspection_targets", education)["items"]
    assert [(t["institution_id"], t["risk_grade"]) for t in targets] == [(created["id"], "C")]


def test_a_report_as_of_a_day_before_registration_does_not_count_it(platform, token):
    education = token("education")
    with entrypoint_waiter(platform["reporting"], "on_institution_registered"):
        call(platform["registry"], "register_institution", education, registration(2))
    counts = call(platform["reporting"], "get_institution_counts", education, None, "2021-11-10")
    assert counts["institutions_total"] == 0 and counts["as_of"] == "2021-11-10"


def test_a_redelivered_event_is_applied_once(container_factory, config, token):
    reporting = container_factory(ReportingService, config)
    reporting.start()
    from services.common.events import make_event

    event = make_event("registry", "institution_registered",
                       {"id": 42, "township_code": "340722100", "category": "academic", "status": "operating",
                        "name": "x"}, "340722100")
    dispatch = event_dispatcher(config)
    for _ in range(2):
        with entrypoint_waiter(reporting, "on_institution_registered"):
            dispatch("registry", "institution_registered", event)
    assert call(reporting, "get_institution_counts", token("education"))["institutions_total"] == 1


def test_a_malformed_event_changes_nothing(container_factory, config, token):
    reporting = container_factory(ReportingService, config)
    reporting.start()
    dispatch = event_dispatcher(config)
    with entrypoint_waiter(reporting, "on_institution_registered") as outcome:
        dispatch("registry", "institution_registered", {"event_id": "e1", "type": "institution_registered"})
    with pytest.raises(ValidationFailed) as info:
        outcome.get()
    assert info.value.field == "source"
    assert call(reporting, "get_institution_counts", token("education"))["institutions_total"] == 0


def test_civil_affairs_may_not_register_and_nothing_is_stored(platform, token):
    with pytest.raises(Forbidden) as info:
        call(platform["registry"], "register_institution", token("civil_affairs"), registration(3))
    assert "仅限：教体局" in info.value.message
    assert call(platform["registry"], "list_institutions", token("education"))["items"] == []


def test_a_forged_actor_is_refused_by_the_service_itself(platform, config):
    forged = ActorSigner("not-the-deployment-key").sign(system_actor("340722"))
    with ClusterRpcProxy(config) as rpc:  # straight onto the bus, bypassing the gateway
        with pytest.raises(NotAuthenticated):
            rpc.registry.register_institution(forged, registration(4))
        with pytest.raises(NotAuthenticated):
            rpc.registry.register_institution(None, registration(4))


def test_invalid_code_is_refused_with_its_field_and_nothing_is_stored(platform, token):
    bad = registration(5)
    bad["uscc"] = bad["uscc"][:-1] + ("0" if bad["uscc"][-1] != "0" else "1")
    with pytest.raises(ValidationFailed) as info:
        call(platform["registry"], "register_institution", token("education"), bad)
    assert info.value.field == "uscc"
    assert call(platform["registry"], "list_institutions", token("education"))["items"] == []


def test_same_uscc_twice_is_a_conflict(platform, token):
    with entrypoint_waiter(platform["reporting"], "on_institution_registered"):
        call(platform["registry"], "register_institution", token("education"), registration(6))
    with pytest.raises(Conflict):
        call(platform["registry"], "register_institution", token("education"), registration(6))


def test_another_countys_official_sees_nothing(platform, token):
    with entrypoint_waiter(platform["reporting"], "on_institution_registered"):
        created = call(platform["registry"], "register_institution", token("education"), registration(7))
    neighbour = token("education", division="340721")
    with pytest.raises(Forbidden):
        call(platform["registry"], "get_institution", neighbour, created["id"])
    assert call(platform["registry"], "list_institutions", neighbour)["items"] == []
    with pytest.raises(Forbidden):
        call(platform["reporting"], "get_institution_counts", neighbour, "340722")


def test_only_the_platform_records_a_verification_and_repeats_are_harmless(platform, token, system_token):
    with entrypoint_waiter(platform["reporting"], "on_institution_registered"):
        created = call(platform["registry"], "register_institution", token("education"), registration(8))
    decision = {"outcome": "verified", "reason": None, "decided_by": "教体局/王科长",
                "decided_at": "2026-11-28T10:00:00+08:00"}
    with pytest.raises(Forbidden):
        call(platform["registry"], "record_licence_verification",
             token("education", roles=("leader",)), created["id"], decision)
    first = call(platform["registry"], "record_licence_verification", system_token, created["id"], decision)
    again = call(platform["registry"], "record_licence_verification", system_token, created["id"], decision)
    assert first["verification_name"] == again["verification_name"] == "已核验"
    assert first["verified_by"] == "教体局/王科长"
    with pytest.raises(Conflict):
        call(platform["registry"], "record_licence_verification", system_token, created["id"],
             {**decision, "outcome": "rejected", "reason": "证照不符"})


def test_correlation_id_travels_from_rpc_into_the_event_headers(platform, config, token):
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(config["AMQP_URI"]) as conn:
        queue = Queue("test-correlation", exchange, routing_key="institution_registered",
                      auto_delete=True, channel=conn.channel())
        queue.declare()
        with ClusterRpcProxy(config, context_data={"correlation_id": "req-abc-123"}) as rpc:
            rpc.registry.register_institution(token("education"), registration(9))
        message = None
        for _ in range(50):
            message = queue.get(no_ack=True)
            if message:
                break
            time.sleep(0.1)
        assert message is not None
        assert message.headers["nameko.correlation_id"] == "req-abc-123"
        assert json.loads(message.body)["data"]["uscc"] == make_uscc(9)
        queue.delete()


def test_errors_cross_the_bus_with_their_field_and_no_row(platform, config, token):
    bad = registration(10, category="体育类")
    with ClusterRpcProxy(config) as rpc:
        with pytest.raises(ValidationFailed) as info:
            rpc.registry.register_institution(token("education"), bad)
    assert info.value.field == "category" and info.value.row is None
    assert str(info.value).startswith("字段 category：")
