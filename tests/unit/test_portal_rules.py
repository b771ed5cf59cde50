"""机构端 and 家长端 rules on plain data (issue 14): the contract code, a parent's answer to a lesson,
and the bound actors in the one permission table."""
from __future__ import annotations

import pytest

from services.common.contract_codes import ALPHABET, CODE_LENGTH, format_code, new_code, normalize_code
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.identity import Actor, ActorSigner, DepartmentKind, parent_actor, parse_department_kind
from services.common.policy import authorize, can
from services.escrow.parent_rules import check_confirmable, check_disputable, parse_dispute

K = DepartmentKind


def institution(iid=7):
    return Actor(5, "jigou", "刘校长", 9, K.institution, "某培训学校", "340722", ("clerk",), institution_id=iid)


def test_codes_are_80_random_bits_read_as_a_parent_types_them():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert len(ALPHABET) ** CODE_LENGTH == 2**80
    code = "7K3M9QXD2F8HRT5N"
    assert format_code(code) == "7K3M-9QXD-2F8H-RT5N"
    assert normalize_code(" 7k3m-9qxd 2f8h-rt5n ") == code
    assert normalize_code("O1IL" + code[4:]) == "0111" + code[4:]  # O read as 0, I and L as 1
    for bad in ("", "7K3M", code + "X", "7K3M-9QXD-2F8H-RT5#", None, 12345, "x" * 41):
        with pytest.raises(ValidationFailed) as info:
            normalize_code(bad)
        assert info.value.field == "code" and "16位" in info.value.message


def test_a_parent_confirms_or_disputes_and_silence_after_a_dispute_is_not_consent():
    assert check_confirmable("pending", deemed=False) and check_confirmable("pending", deemed=True)
    assert check_confirmable("disputed", deemed=False)  # the parent withdraws the dispute
    assert not check_confirmable("disputed", deemed=True)
    assert not check_confirmable("confirmed", deemed=False) and not check_confirmable("deemed", deemed=False)
    with pytest.raises(Conflict) as info:
        check_disputable("deemed", 3)
    assert "第3次课已逾期视为确认" in info.value.message and info.value.field == "lesson_no"
    check_disputable("pending", 1)
    assert parse_dispute({"reason": "  未上课 "}) == "未上课"
    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}, []):
        with pytest.raises(ValidationFailed):
            parse_dispute(bad)


def test_bound_actors_pass_only_for_their_own_subject_and_fail_closed():
    me = institution(7)
    authorize(me, "escrow.deliver_lesson", "340722100", institution_id=7)
    for named in (8, None):
        with pytest.raises(Forbidden) as info:
            authorize(me, "escrow.read", "340722100", institution_id=named)
        assert "本机构" in info.value.message
    assert not can(me, "escrow.confirm_lesson", institution_id=7)  # the parent's step, not the institution's
    assert not can(me, "escrow.desk", institution_id=7) and not can(me, "inspection.read")
    assert not can(me, "registry.update_records", institution_id=7) and can(me, "registry.courses", institution_id=7)

    parent = parent_actor("340722", "7K3M9QXD2F8HRT5N")
    assert can(parent, "escrow.confirm_lesson", contract_code="7K3M9QXD2F8HRT5N")
    assert not can(parent, "escrow.confirm_lesson", contract_code="7K3M9QXD2F8HRT5X")
    assert not can(parent, "escrow.read") and not can(parent, "escrow.answer_refund", contract_code="7K3M9QXD2F8HRT5N")
    assert not can(parent, "registry.read") and not can(parent, "ops.read_health")

    official = Actor(1, "u", "王科长", 3, K.education, "", "340722", ("clerk",))
    assert can(official, "escrow.read", "340722100")  # officials are not bound: nothing changes for them


def test_the_signed_actor_carries_the_binding_and_events_never_the_code():
    signer = ActorSigner("k" * 32)
    assert signer.verify(signer.sign(institution(7))).institution_id == 7
    parent = signer.verify(signer.sign(parent_actor("340722", "7K3M9QXD2F8HRT5N")))
    assert parent.contract_code == "7K3M9QXD2F8HRT5N" and parent.department_kind is K.parent
    assert parent.public_dict()["contract_code"] == "***"
    official = Actor(1, "u", "王科长", 3, K.education, "", "340722", ("clerk",))
    assert "institution_id" not in official.to_dict() and "contract_code" not in official.to_dict()
    for kind in ("institution", "parent"):
        with pytest.raises(ValidationFailed):
            parse_department_kind(kind)


def test_yuan_typed_on_a_form_becomes_exact_fen_or_is_refused_by_field():
    from werkzeug.datastructures import MultiDict

    from services.gateway.pages.institution_portal import form_fen

    def fen(text):
        return form_fen(MultiDict({"price_yuan": text}), "price_yuan", "每课时价格")

    assert [fen(t) for t in ("80", "80.5", "80.500", "1,234.56元", " 0.01 ", "9999999.99")] == [
        8000, 8050, 8050, 123456, 1, 999999999]
    for bad in ("", "abc", "NaN", "Infinity", "-1", "0.001", "1e100", "10000000.01"):
        with pytest.raises(ValidationFailed) as info:
            fen(bad)
        assert info.value.field == "price_yuan" and info.value.message.startswith("每课时价格"), bad


def test_the_bureau_opens_an_institution_account_bound_to_that_institution(tmp_path):
    from pathlib import Path

    from sqlalchemy.orm import sessionmaker

    from services.common.config import Deployment
    from services.common.db import make_engine, migrate
    from services.gateway import identity, institution_accounts

    url = f"sqlite:///{tmp_path / 'gw.db'}"
    migrate("gateway", Path(identity.__file__).parent / "migrations", url)
    session = sessionmaker(bind=make_engine(url), expire_on_commit=False)()
    identity.bootstrap(session, Deployment("340722", "枞阳县"), "admin", "admin-password-1")
    leader = Actor(1, "jt", "王科长", 3, K.education, "教体局", "340722", ("leader", "clerk"))
    clerk = Actor(2, "jc", "李干事", 3, K.education, "教体局", "340722", ("clerk",))
    record = {"id": 17, "name": "枞阳县启航培训学校", "township_code": "340722100"}
    body = {"username": "qihang", "password": "Qihang@2021x", "display_name": "刘校长"}

    with pytest.raises(Forbidden):
        institution_accounts.create_account(session, clerk, record, body)  # 负责人 only
    elsewhere = Actor(1, "jt", "王科长", 3, K.education, "教体局", "340723", ("leader",))
    with pytest.raises(Forbidden):
        institution_accounts.create_account(session, elsewhere, record, body)  # not the bureau's county
    made = institution_accounts.create_account(session, leader, record, body)
    assert (made["institution_id"], made["institution_name"], made["department"]["kind"]) == (
        17, "枞阳县启航培训学校", "institution")
    with pytest.raises(Conflict):
        institution_accounts.create_account(session, leader, record, body)
    with pytest.raises(ValidationFailed) as info:
        institution_accounts.create_account(session, leader, record, {**body, "username": "x"})
    assert info.value.field == "username"

    user, dept = identity.authenticate(session, {"username": "qihang", "password": "Qihang@2021x"})
    actor = identity.actor_for(user, dept)
    assert (actor.department_kind, actor.institution_id, actor.department_label) == (
        K.institution, 17, "枞阳县启航培训学校")
    assert [a["username"] for a in institution_accounts.list_accounts(session, leader, record)] == ["qihang"]
    session.close()
