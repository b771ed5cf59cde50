import pytest

from services.common.errors import Forbidden, NotAuthenticated, ValidationFailed
from services.common.identity import Actor, ActorSigner, DepartmentKind, parse_department_kind, system_actor
from services.common.policy import PERMISSIONS, authorize, can


def actor(kind="education", roles=("clerk",), division="340722"):
    return Actor(1, "u", "用户", 7, DepartmentKind(kind), "部门", division, tuple(roles))


def test_signed_actor_round_trips():
    signer = ActorSigner("k1")
    original = actor(roles=("leader", "clerk"))
    assert signer.verify(signer.sign(original)) == original


def test_an_actor_signed_with_another_key_is_refused():
    token = ActorSigner("attacker").sign(actor())
    with pytest.raises(NotAuthenticated):
        ActorSigner("deployment").verify(token)


def test_a_tampered_actor_is_refused():
    signer = ActorSigner("k1")
    token = signer.sign(actor(kind="civil_affairs"))
    payload, sig = token.rsplit(".", 1)
    forged = ActorSigner("k1").sign(actor(kind="education")).rsplit(".", 1)[0] + "." + sig
    with pytest.raises(NotAuthenticated):
        signer.verify(forged)
    with pytest.raises(NotAuthenticated):
        signer.verify(None)


def test_only_education_registers_institutions():
    authorize(actor("education"), "registry.register_institution", "340722100")
    with pytest.raises(Forbidden) as info:
        authorize(actor("civil_affairs"), "registry.register_institution", "340722100")
    assert info.value.message == "部门无权执行此操作，仅限：教体局"


def test_records_outside_the_actors_division_are_refused():
    with pytest.raises(Forbidden) as info:
        authorize(actor("education", division="340722"), "registry.register_institution", "340721100")
    assert info.value.field == "division_code"


def test_deciding_a_verification_needs_the_leader_role():
    assert not can(actor("education", roles=("clerk",)), "registry.decide_licence_verification")
    assert can(actor("education", roles=("leader",)), "registry.decide_licence_verification", "340722100")


def test_system_actor_may_record_what_humans_may_not():
    assert can(system_actor("340722"), "registry.record_licence_verification", "340722100")
    assert not can(actor("education", roles=("leader", "admin")), "registry.record_licence_verification")


def test_every_permission_names_known_departments():
    for action, kinds in PERMISSIONS.items():
        assert kinds and all(isinstance(k, DepartmentKind) for k in kinds), action


def test_unknown_department_kind_is_a_clear_error():
    with pytest.raises(ValidationFailed) as info:
        parse_department_kind("tax_bureau")
    assert "未知部门类型" in info.value.message and info.value.field == "department_kind"
    with pytest.raises(ValidationFailed):
        parse_department_kind("system")
