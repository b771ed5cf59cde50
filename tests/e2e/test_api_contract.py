"""The gateway's API contract on a running platform: `/openapi.json` is a valid OpenAPI document of
every JSON route, and schemathesis, fuzzing every operation as an administrator, gets no 5xx and
every 4xx in the one error shape.

The fuzzing runs against a platform of its own (not the session's): it registers whatever it
generates and spends the public rate limits, which the other end-to-end tests count on.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from shuangjian.codes import make_uscc
from shuangjian.demo import DEMO_PASSWORD
from tests.e2e.support import admin_client, as_user, run_platform

EXAMPLES_PER_OPERATION = int(os.environ.get("SHUANGJIAN_CONTRACT_EXAMPLES", "3"))  # per operation and mode


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory):
    yield from run_platform(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="module")
def admin_token(fuzz_platform):
    """An administrator of the county's education bureau (admin, leader and clerk): the built-in
    administrator is 运维 and most routes would answer it 403 before reading their input."""
    ops = admin_client(fuzz_platform)
    ops.post("/api/divisions", {"code": "340722100", "name": "枞阳镇"})
    department = ops.post("/api/departments", {"division_code": "340722", "kind": "education"})
    ops.post("/api/users", {"username": "contract_admin", "password": DEMO_PASSWORD, "department_id": department["id"],
                            "roles": ["admin", "leader", "clerk"], "display_name": "契约测试"})
    client = as_user(fuzz_platform, "contract_admin")
    client.post("/api/institutions", {  # something for the generated ids to find: institution 1
        "name": "契约测试培训学校", "uscc": make_uscc(1), "licence_no": "教民134072270000001号",
        "licence_issued_on": "2020-03-01", "category": "non_academic", "legal_form": "for_profit",
        "township_code": "340722100", "address": "枞阳镇测试路1号", "subjects": ["美术"], "stages": ["primary"]})
    return client.token


@pytest.fixture(scope="module")
def api_schema(fuzz_platform, admin_token):
    schema = schemathesis.openapi.from_url(f"{fuzz_platform['url']}/openapi.json")
    schema.config.update(base_url=fuzz_platform["url"])
    schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)
    return schema


def error_shape(ctx, response, case):
    """Every 4xx and 5xx is {"error": {"code", "message", "field"}} (field may be null)."""
    if response.status_code < 400:
        return None
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} without the error object: {response.text[:300]}"
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), response.text[:300]
    assert "field" in error and (error["field"] is None or isinstance(error["field"], str)), response.text[:300]
    return True


def test_openapi_document_is_valid_and_lists_the_json_routes(fuzz_platform):
    url = fuzz_platform["url"]
    answer = requests.get(f"{url}/openapi.json", timeout=30)  # no login
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    document = answer.json()
    assert document["openapi"].startswith("3.")
    schema = schemathesis.openapi.from_dict(document)  # refuses an invalid document
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    for expected in [("POST", "/api/login"), ("POST", "/api/institutions"), ("GET", "/api/institutions/{institution_id}"),
                     ("POST", "/api/institutions/{institution_id}/status"), ("POST", "/api/public/complaints"),
                     ("GET", "/api/reports/half-monthly"), ("POST", "/api/inspection/campaigns"),
                     ("POST", "/api/inspection/records"), ("POST", "/api/users"), ("GET", "/openapi.json")]:
        assert expected in operations, expected
    assert not any(path.startswith(("/ui", "/public/", "/static")) for _, path in operations)  # HTML pages
    paths = document["paths"]
    assert paths["/api/login"]["post"]["security"] == []
    assert paths["/api/public/complaints"]["post"]["security"] == []
    assert {"bearerAuth", "sessionCookie"} <= set(document["components"]["securitySchemes"])
    params = {p["name"] for p in paths["/api/reports/half-monthly"]["get"]["parameters"]}
    assert {"as_of", "division", "format"} <= params
    listed = {p["name"] for p in paths["/api/escrow/refunds"]["get"]["parameters"]}
    assert {"limit", "offset"} <= listed
    post_institution = paths["/api/institutions"]["post"]
    assert "uscc" in post_institution["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert post_institution["responses"]["4XX"] == {"$ref": "#/components/responses/Error"}


def test_errors_outside_the_handlers_have_the_one_shape(fuzz_platform, admin_token):
    url, auth = fuzz_platform["url"], {"Authorization": f"Bearer {admin_token}"}
    cases = [
        ("GET", "/no/such/route", {}, None, 404),
        ("DELETE", "/api/institutions", {}, None, 405),
        ("POST", "/api/institutions", {"Content-Type": "application/json"}, b"\xff\xfe{", 400),
        ("POST", "/api/institutions", {"Content-Type": "application/json"}, b"{not json", 400),
        ("POST", "/api/institutions", {"Content-Type": "application/json"}, b"[1, 2]", 400),
        ("POST", "/api/institutions", {"Content-Type": "application/json"}, b'{"a": NaN}', 400),
        ("POST", "/api/institutions", {"Content-Type": "application/json"}, b"[" * 100_000, 400),
        ("POST", "/api/institutions", {"Content-Type": "application/json"}, b" " * ((1 << 20) + 1), 413),
        ("GET", "/api/institutions/99999999999999999999", {}, None, 404),
        ("GET", "/api/escrow/accounts?institution=99999999999999999999", {}, None, 400),
        ("GET", "/api/users?limit=0", {}, None, 400),
    ]
    for method, path, headers, body, status in cases:
        answer = requests.request(method, f"{url}{path}", headers={**auth, **headers}, data=body, timeout=30)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text[:200])
        assert answer.headers["Content-Type"].startswith("application/json"), (path, answer.headers)
        error = answer.json()["error"]
        assert set(error) >= {"code", "message", "field"}, (path, error)
    paged = requests.get(f"{url}/api/divisions?limit=1&offset=0", headers=auth, timeout=30).json()
    assert len(paged["items"]) == 1 and paged["total"] >= 1 and paged["limit"] == 1


def test_no_server_errors_and_one_error_shape(api_schema, admin_token):
    """Every operation, valid inputs then invalid ones (wrong types, missing fields, out of range),
    EXAMPLES_PER_OPERATION each, derandomised so a run is repeatable. (schemathesis' pytest plugin
    fails on pytest 9.2 — no `Function._nodeid` — so its Python API, under hypothesis' @given.)"""
    headers = {"Authorization": f"Bearer {admin_token}"}
    session = requests.Session()  # keep-alive
    failures, seen = [], Counter()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/logout":
            continue  # harmless, but it is the one route that ends the fuzzer's own session cookie
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                      report_multiple_bugs=False)
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case):
                response = case.call_and_validate(headers=headers, session=session, timeout=60,
                                                  checks=[not_a_server_error, response_schema_conformance, error_shape])
                seen[response.status_code] += 1

            try:
                call()
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except Exception as exc:  # noqa: BLE001 — collected: every operation is tried
                failures.append(f"{operation.label} ({mode.value}): {exc}")
                break
    print("statuses:", dict(sorted(seen.items())))
    assert not failures, "\n\n".join(failures)
    assert seen[401] < sum(seen.values()) / 10, seen  # the fuzzer did get past the login
