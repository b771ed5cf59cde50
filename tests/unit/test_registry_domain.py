import pytest

from services.common.errors import Conflict, ValidationFailed
from services.registry import domain
from shuangjian.codes import make_uscc


def valid(**overrides):
    data = {
        "name": "枞阳县启明培训学校",
        "uscc": make_uscc(123456789),
        "licence_no": "教民1340722700001号",
        "licence_issued_on": "2021-06-18",
        "category": "学科类",
        "legal_form": "营利性",
        "township_code": "340722100",
        "address": "枞阳镇渡江路88号",
    }
    data.update(overrides)
    return data


def test_a_complete_registration_parses_chinese_labels():
    draft = domain.parse_registration(valid())
    assert draft.category is domain.Category.academic
    assert draft.legal_form is domain.LegalForm.for_profit
    assert draft.division_code == "340722100"


def test_uscc_with_a_wrong_check_character_is_refused():
    code = make_uscc(123456789)
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(ValidationFailed) as info:
        domain.parse_registration(valid(uscc=wrong))
    assert info.value.field == "uscc" and "校验位" in info.value.message


def test_known_published_uscc_is_accepted():
    assert domain.validate_uscc("91110000600037341L") == "91110000600037341L"


@pytest.mark.parametrize(
    "field,value,fragment",
    [("uscc", "9134", "18位"), ("category", "体育类", "可选"), ("legal_form", "国有", "可选"),
     ("township_code", "340722", "乡镇"), ("name", "  ", "不能为空"), ("licence_issued_on", "2021/06/18", "YYYY-MM-DD")],
)
def test_each_bad_field_is_named(field, value, fragment):
    with pytest.raises(ValidationFailed) as info:
        domain.parse_registration(valid(**{field: value}))
    assert info.value.field == field
    assert fragment in info.value.message


def test_verification_is_recorded_once_and_repeats_are_harmless():
    V = domain.Verification
    assert domain.check_verification_outcome(V.pending, V.verified) is True
    assert domain.check_verification_outcome(V.verified, V.verified) is False
    with pytest.raises(Conflict):
        domain.check_verification_outcome(V.verified, V.rejected)


@pytest.mark.parametrize(
    "decision,field",
    [({"outcome": "maybe", "decided_at": "2026-11-28T10:00:00+08:00"}, "outcome"),
     ({"outcome": "verified"}, "decided_at"),
     ({"outcome": "verified", "decided_at": "2026-11-28T10:00:00"}, "decided_at"),
     ("verified", "decision")],
)
def test_a_malformed_decision_names_its_field(decision, field):
    with pytest.raises(ValidationFailed) as info:
        domain.parse_verification_decision(decision)
    assert info.value.field == field
