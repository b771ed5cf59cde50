"""End to end: `shuangjian audit verify` passes, then fails naming the service and the entry after
one registry audit row is edited in the database directly."""
from __future__ import annotations

import random

from sqlalchemy import create_engine, text

from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user, cli


def registry_db_url(platform) -> str:
    template = platform["env"].get("SHUANGJIAN_DB_URL_TEMPLATE")
    return template.format(service="registry") if template else f"sqlite:///{platform['var'] / 'registry.db'}"


def test_audit_verify_fails_after_a_row_is_edited_in_the_database(platform):
    load_demo_county(admin_client(platform))
    education = as_user(platform, "jiaoti_clerk")
    serial = random.randrange(10**6, 10**8)
    created = education.post("/api/institutions", {
        "name": f"审计测试培训学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民A{serial}号",
        "category": "非学科类", "legal_form": "营利性", "township_code": "340722100", "address": "枞阳镇1号"})
    trail = admin_client(platform).get("/api/audit", service="registry", entity="institution",
                                       entity_id=str(created["id"]))
    assert [e["action"] for e in trail["items"]] == ["registry.register_institution"]
    seq = trail["items"][0]["seq"]
    assert trail["items"][0]["actor_username"] == "jiaoti_clerk" and trail["items"][0]["department_kind"] == "education"

    intact = cli(platform["env"], "audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "registry" in intact.stdout and "完好" in intact.stdout

    engine = create_engine(registry_db_url(platform))
    try:
        with engine.begin() as conn:
            original = conn.execute(text("SELECT actor_name FROM audit_log WHERE seq = :s"), {"s": seq}).scalar_one()
            conn.execute(text("UPDATE audit_log SET actor_name = '冒名者' WHERE seq = :s"), {"s": seq})
        broken = cli(platform["env"], "audit", "verify")
        assert broken.returncode == 1, broken.stdout + broken.stderr
        line = next(x for x in broken.stdout.splitlines() if x.startswith("registry"))
        assert f"第{seq}条被篡改或删除" in line, broken.stdout
        assert all("完好" in x for x in broken.stdout.splitlines()
                   if x.split("（")[0] in ("escrow", "inspection", "reporting", "gateway"))
    finally:  # the platform is shared by the session: put the row back
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor_name = :n WHERE seq = :s"), {"n": original, "s": seq})
        engine.dispose()
    assert cli(platform["env"], "audit", "verify").returncode == 0
