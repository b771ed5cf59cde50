"""The audit trail on the real bus: a registry status change is logged with who, department and
before/after; verify_audit finds an entry edited in the database; only auditors may verify."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from services.common.config import database_url
from services.common.db import make_engine
from services.common.errors import Forbidden
from services.registry.service import RegistryService
from shuangjian.codes import make_uscc
from tests.service.support import call


@pytest.fixture
def platform(start_services):
    return start_services(RegistryService)


def registration(serial=1):
    return {"name": f"枞阳县审计测试培训学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民13407227000{serial}号",
            "licence_issued_on": "2021-06-18", "category": "学科类", "legal_form": "营利性", "township_code": "340722100",
            "address": "枞阳镇渡江路1号"}


def test_a_status_change_is_logged_and_an_edited_entry_is_found(platform, token):
    registry = platform["registry"]
    education = token("education", roles=("clerk",), user_id=21)
    auditor = token("ops", roles=("admin",), division="340722", user_id=1)
    created = call(registry, "register_institution", education, registration(1))
    call(registry, "change_institution_status", education, created["id"],
         {"status": "停业整顿", "effective_on": "2021-10-31", "reason": "超标超前培训"})

    trail = call(registry, "list_audit", education, "institution", created["id"], 100, 0)
    assert trail["total"] == 2
    registered, changed = trail["items"]
    assert registered["action"] == "registry.register_institution" and registered["before"] is None
    assert changed["seq"] == 2 and changed["action"] == "registry.change_institution_status"
    assert (changed["before"]["status"], changed["after"]["status"]) == ("operating", "suspended_for_rectification")
    assert changed["after"]["reason"] == "超标超前培训"
    assert (changed["actor_username"], changed["department_kind"]) == ("user21", "education")
    assert changed["division_code"] == "340722100" and changed["prev_hash"] == registered["hash"]
    # another county's reader sees none of it
    assert call(registry, "list_audit", token("education", division="340723"), "institution", created["id"],
                100, 0)["total"] == 0

    result = call(registry, "verify_audit", auditor)
    assert (result["service"], result["entries"], result["ok"], result["first_bad_seq"]) == ("registry", 2, True, None)

    engine = make_engine(database_url("registry"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor_name = '他人' WHERE seq = 2"))
    engine.dispose()
    broken = call(registry, "verify_audit", auditor)
    assert broken["ok"] is False and broken["first_bad_seq"] == 2 and broken["reason"]


def test_only_ops_or_education_admins_may_verify(platform, token):
    registry = platform["registry"]
    with pytest.raises(Forbidden):
        call(registry, "verify_audit", token("market_regulation", roles=("clerk",)))
    with pytest.raises(Forbidden):
        call(registry, "verify_audit", token("education", roles=("clerk", "leader")))
    assert call(registry, "verify_audit", token("education", roles=("admin",)))["ok"] is True
