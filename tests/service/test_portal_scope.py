"""机构端 and 家长端 (issue 14) on the real bus and database: an institution account is refused every
record of another institution, a parent's contract code every contract but its own — by the escrow
and registry services themselves, whatever the gateway shows."""
from __future__ import annotations

import pytest

from services.common.errors import Forbidden, NotFound, ValidationFailed
from services.common.identity import Actor, DepartmentKind, parent_actor
from services.escrow.service import EscrowService
from services.registry.service import RegistryService
from tests.service.support import call
from tests.service.test_escrow import charge, custody_account, quiet_bus, register  # noqa: F401 - fixture
from tests.service.test_registry_records import registration

ESCROW_READS = ("get_position", "list_fee_items", "get_enrolment_eligibility", "get_prepaid_position")


def institution_token(signer, institution_id, name="测试培训学校"):
    return signer.sign(Actor(40 + institution_id % 50, f"inst{institution_id}", "机构联系人", 9,
                             DepartmentKind.institution, name, "340722", ("clerk",), institution_id=institution_id))


def refused(container, method, actor, *args, fragment="本机构"):
    with pytest.raises(Forbidden) as info:
        call(container, method, actor, *args)
    assert fragment in info.value.message, (method, info.value.message)


def _two_institutions(escrow, config, clerk):
    """Institutions 601 and 602, each with an account, a published fee item and one contract."""
    made = {}
    for iid in (601, 602):
        register(config, [escrow], iid)
        call(escrow, "open_account", clerk, custody_account(iid))
        item = call(escrow, "create_fee_item", clerk, {"institution_id": iid, "name": "初中数学",
                                                       "price_per_hour_fen": 8000})
        contract = call(escrow, "sign_contract", clerk, charge(iid, item["id"], f"P-{iid}"))
        call(escrow, "deliver_lesson", clerk, contract["id"], {"lesson_no": 1, "hours": 2})
        made[iid] = {"item": item, "contract": call(escrow, "get_contract", clerk, contract["id"])}
    return made


def test_an_institution_account_is_refused_everything_of_another_institution(start_services, config, token,
                                                                               signer):
    escrow = start_services(EscrowService)["escrow"]
    clerk = token("education")
    made = _two_institutions(escrow, config, clerk)
    mine, other = made[601], made[602]
    me = institution_token(signer, 601)

    # its own institution: fee items, a charge within the caps, lessons, the position, its lists
    item = call(escrow, "create_fee_item", me, {"institution_id": 601, "name": "小学英语", "price_per_hour_fen": 6000})
    assert item["state"] == "published"
    signed = call(escrow, "sign_contract", me, charge(601, item["id"], "P-601-2", class_hours=10, amount_fen=60000))
    assert signed["institution_id"] == 601
    lesson = call(escrow, "deliver_lesson", me, mine["contract"]["id"], {"lesson_no": 2, "hours": 2})
    assert lesson["confirmation"] == "pending"
    assert call(escrow, "get_position", me, 601)["name"] == "枞阳县测试培训学校601"
    assert {c["institution_id"] for c in call(escrow, "list_contracts", me)["items"]} == {601}
    assert {a["institution_id"] for a in call(escrow, "list_accounts", me)["items"]} == {601}
    assert call(escrow, "find_contract", me, "P-601")["access_code"]  # its own contract shows the parent code

    # another institution's records: refused by the service, whichever way they are named
    theirs = other["contract"]["id"]
    refused(escrow, "get_contract", me, theirs)
    refused(escrow, "find_contract", me, "P-602")
    refused(escrow, "deliver_lesson", me, theirs, {"lesson_no": 2, "hours": 2})
    refused(escrow, "create_fee_item", me, {"institution_id": 602, "name": "冒名", "price_per_hour_fen": 6000})
    refused(escrow, "withdraw_fee_item", me, other["item"]["id"])
    refused(escrow, "sign_contract", me, charge(602, other["item"]["id"], "P-602-X"))
    for method in ESCROW_READS:
        refused(escrow, method, me, 602)
    refused(escrow, "list_contracts", me, 100, 0, 602)
    refused(escrow, "list_refunds", me, 602)
    refused(escrow, "list_alerts", me, 100, 0, {"institution_id": 602})
    refund = call(escrow, "request_refund", clerk, theirs, {"amount_fen": 10000, "reason": "搬家"})
    refused(escrow, "answer_refund", me, refund["id"], {"decision": "accept"})
    # …and the steps that are not the institution's own, even on its own contract
    refused(escrow, "confirm_lesson", me, mine["contract"]["id"], 1, fragment="仅限")
    refused(escrow, "request_refund", me, mine["contract"]["id"], {"amount_fen": 100, "reason": "x"}, fragment="仅限")
    refused(escrow, "open_account", me, custody_account(601, "6228480099"), fragment="仅限")
    refused(escrow, "get_escrow_settings", me, "340722")  # a county-wide read names no institution

    # its own refund: answered by the institution itself
    own = call(escrow, "request_refund", clerk, mine["contract"]["id"], {"amount_fen": 10000, "reason": "转学"})
    assert call(escrow, "answer_refund", me, own["id"], {"decision": "accept"})["status"] == "accepted"


def test_a_parent_code_opens_its_own_contract_and_nothing_else(start_services, config, token, signer):
    escrow = start_services(EscrowService)["escrow"]
    clerk = token("education")
    made = _two_institutions(escrow, config, clerk)
    mine, other = made[601]["contract"], made[602]["contract"]
    typed = mine["access_code"].lower()  # as a parent types it: lower case, with the dashes
    parent = signer.sign(parent_actor("340722", typed.replace("-", "").upper()))

    view = call(escrow, "open_contract_by_code", parent)
    assert (view["contract_no"], view["institution_name"], view["fee_item_name"]) == (
        "P-601", "枞阳县测试培训学校601", "初中数学")
    assert "institution_id" not in view and "township_code" not in view  # names, not the records' keys
    assert [x["confirmation"] for x in view["lessons"]] == ["pending"]
    assert call(escrow, "get_contract", token("market_regulation"), mine["id"])["access_code"] is None  # reads, no code

    # the code's own contract: confirm, dispute, ask a refund
    assert call(escrow, "confirm_lesson", parent, mine["id"], 1)["confirmation"] == "confirmed"
    call(escrow, "deliver_lesson", clerk, mine["id"], {"lesson_no": 2, "hours": 2})
    disputed = call(escrow, "dispute_lesson", parent, mine["id"], 2, {"reason": "当天孩子请假，未上课"})
    assert (disputed["confirmation"], disputed["dispute_reason"]) == ("disputed", "当天孩子请假，未上课")
    system = signer.sign(Actor(0, "system:workflows", "平台流程", 0, DepartmentKind.system, "系统", "340722", ()))
    assert call(escrow, "deem_lesson_confirmed", system, mine["id"], 2)["confirmation"] == "disputed"
    with pytest.raises(ValidationFailed):
        call(escrow, "dispute_lesson", parent, mine["id"], 1, {"reason": ""})
    refund = call(escrow, "request_refund", parent, mine["id"], {"amount_fen": 20000, "reason": "孩子转学"})
    assert refund["status"] == "requested"
    assert call(escrow, "get_contract", clerk, mine["id"])["confirmed_fen"] == 16000  # the disputed one is held

    # another contract, by its id: refused, whatever the step
    code = "合同码与该合同不符"
    refused(escrow, "get_contract", parent, other["id"], fragment=code)
    refused(escrow, "confirm_lesson", parent, other["id"], 1, fragment=code)
    refused(escrow, "dispute_lesson", parent, other["id"], 1, {"reason": "不是我的"}, fragment=code)
    refused(escrow, "request_refund", parent, other["id"], {"amount_fen": 100, "reason": "x"}, fragment=code)
    refused(escrow, "find_contract", parent, "P-602", fragment="合同码")
    # …and everything that is not a contract's
    for method in ESCROW_READS:
        refused(escrow, method, parent, 601, fragment=code)
    refused(escrow, "list_contracts", parent, fragment=code)
    refused(escrow, "list_refunds", parent, fragment=code)
    refused(escrow, "answer_refund", parent, refund["id"], {"decision": "accept"}, fragment="仅限")
    refused(escrow, "deliver_lesson", parent, mine["id"], {"lesson_no": 3, "hours": 2}, fragment="仅限")

    # a code that names no contract, or another contract's code held by someone else
    stranger = signer.sign(parent_actor("340722", "0" * 16))
    with pytest.raises(NotFound):
        call(escrow, "open_contract_by_code", stranger)
    refused(escrow, "get_contract", stranger, mine["id"], fragment=code)
    theirs = signer.sign(parent_actor("340722", other["access_code"].replace("-", "")))
    assert call(escrow, "open_contract_by_code", theirs)["contract_no"] == "P-602"
    refused(escrow, "confirm_lesson", theirs, mine["id"], 2, fragment=code)

    # a leaked code is replaced: the old one opens nothing from then on; only the contract's own
    # institution (or the bureau) may replace it
    refused(escrow, "reissue_contract_code", institution_token(signer, 602), mine["id"])
    refused(escrow, "reissue_contract_code", parent, mine["id"], fragment="仅限")
    fresh = call(escrow, "reissue_contract_code", institution_token(signer, 601), mine["id"])["access_code"]
    assert fresh != mine["access_code"]
    with pytest.raises(NotFound):
        call(escrow, "open_contract_by_code", parent)
    refused(escrow, "confirm_lesson", parent, mine["id"], 2, fragment=code)
    renewed = signer.sign(parent_actor("340722", fresh.replace("-", "")))
    assert call(escrow, "open_contract_by_code", renewed)["contract_no"] == "P-601"


def test_an_institution_account_publishes_its_own_courses_only(start_services, token, signer):
    registry = start_services(RegistryService)["registry"]
    mine = call(registry, "register_institution", token("education"), registration(61))
    other = call(registry, "register_institution", token("education"), registration(62))
    me = institution_token(signer, mine["id"])
    course = {"name": "初二数学", "subject": "数学", "price_fen": 240000, "class_hours": 40, "mode": "offline",
              "schedule": [{"weekday": 6, "start": "09:00", "end": "10:30"}]}
    published = call(registry, "publish_course", me, mine["id"], course)
    assert [c["name"] for c in call(registry, "list_courses", me, mine["id"])["items"]] == ["初二数学"]
    assert call(registry, "get_institution", me, mine["id"])["name"] == mine["name"]
    theirs = call(registry, "publish_course", token("education"), other["id"], course)
    refused(registry, "publish_course", me, other["id"], course)
    refused(registry, "withdraw_course", me, theirs["id"])
    refused(registry, "list_courses", me, other["id"])
    refused(registry, "get_institution", me, other["id"])
    refused(registry, "list_institutions", me, 100, 0, {})
    refused(registry, "change_institution_status", me, mine["id"], {"status": "暂停营业", "reason": "x"}, fragment="仅限")
    assert call(registry, "withdraw_course", me, published["id"])["state"] == "withdrawn"
