"""Bad input, against the API and the bus, on a platform of its own (it spends the public complaint
limit and publishes junk to the exchanges, which the other end-to-end tests must not see).

The API: malformed and oversized JSON, wrong types, invalid codes (统一社会信用代码 check
character, 行政区划 codes), bad money, SQL and script injection strings, odd Unicode, forged
sessions and CSRF-less posts — each answered with a clear 4xx in the one error shape
{"error": {"code", "message", "field"}}, no 5xx, and nothing stored (row counts in every service's
database before and after). Strings that are merely unusual (a name with an emoji, `' OR 1=1 --`
as text, `<script>`) may be accepted, but then they must come back exactly as sent, JSON-encoded.

The bus: malformed messages published straight to each service's event exchange (and to the bank
feed): the consumers keep working — a following good event is applied — and the bad ones store
nothing. When a service has dead-letter queues (`dlq.*`), the bad messages must be there too.
"""
from __future__ import annotations

import json
import os
import pickle
import random
import subprocess
import time
from datetime import datetime, timedelta

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer
from kombu import Connection, Exchange, Producer
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from services.common.bank_feed_wire import DLQ_QUEUE, encode_batch, publish_batches
from services.common.workdays import SHANGHAI
from shuangjian.client import ApiError, Client, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import DEMO_PASSWORD, load_demo_county
from shuangjian.reports import wait_for_read_model
from tests.e2e.support import admin_client, as_user, run_platform

TOWNSHIP = "340722100"
BANK = "BADIN"


@pytest.fixture(scope="module")
def bad_platform(tmp_path_factory):
    saved = os.environ.get("SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT")
    os.environ["SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT"] = "100000"  # the complaint cases must not hit 429
    platform = run_platform(tmp_path_factory.mktemp("badinput"))
    try:
        yield next(platform)
    finally:
        if saved is None:
            os.environ.pop("SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT", None)
        else:
            os.environ["SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT"] = saved
        platform.close()


def settled_counts(platform, world) -> dict:
    """Row counts once every change committed so far has reached the read models: an earlier test's
    public complaint reaches reporting's facts a moment after its answer (events applied in batches)."""
    assert wait_for_read_model(world["education"], 60), "报表读模型未能追上"
    return counts(platform)


def db_url(platform, service: str) -> str:
    template = platform["env"].get("SHUANGJIAN_DB_URL_TEMPLATE")
    return template.format(service=service) if template else f"sqlite:///{platform['var'] / f'{service}.db'}"


TABLES = {
    "registry": ("institutions", "institution_status_history", "staff_members", "courses", "schools"),
    "escrow": ("escrow_accounts", "fee_items", "contracts", "lessons", "refunds", "bank_transactions",
               "enrolment_eligibility"),
    "inspection": ("complaints", "inspection_targets", "inspection_leads"),
    "reporting": ("institution_facts", "complaint_facts", "escrow_balance_facts"),
    "gateway": ("users", "departments", "divisions"),
}


def counts(platform) -> dict:
    """Row counts of every table bad input could reach, in every service's database."""
    from sqlalchemy.exc import OperationalError

    out = {}
    for service, tables in TABLES.items():
        engine = create_engine(db_url(platform, service), poolclass=NullPool)
        try:
            for attempt in range(20):  # a shared PostgreSQL may be out of connections for a moment
                try:
                    with engine.connect() as conn:
                        for table in tables:
                            out[f"{service}.{table}"] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                    break
                except OperationalError:
                    if attempt == 19:
                        raise
                    time.sleep(2)
        finally:
            engine.dispose()
    return out


def open_account(client: Client, body: dict, seconds: float = 60) -> dict:
    """Escrow learns of an institution from the registry's event: until then it answers 404."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return client.post("/api/escrow/accounts", body)
        except ApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def world(bad_platform):
    """The county, the education leader, one institution with a supervised account and a fee item."""
    admin = admin_client(bad_platform)
    load_demo_county(admin)
    education = as_user(bad_platform, "jiaoti_leader")
    serial = random.randrange(10**8, 10**9)
    inst = education.post("/api/institutions", {
        "name": f"坏输入测试培训学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民BAD{serial}号",
        "licence_issued_on": "2021-06-18", "category": "学科类", "legal_form": "营利性",
        "township_code": TOWNSHIP, "address": "枞阳镇测试路1号"})
    account = open_account(education, {
        "institution_id": inst["id"], "mode": "custody", "bank_name": "坏输入测试银行", "bank_code": BANK,
        "account_no": f"62{serial:010d}", "custody_agreement_no": f"坏输入托管〔2026〕{serial}号"})
    item = education.post(f"/api/escrow/institutions/{inst['id']}/fee-items",
                          {"name": "初中数学（班课）", "price_per_hour_fen": 8000})
    return {"admin": admin, "education": education, "institution": inst, "account": account, "item": item,
            "url": bad_platform["url"]}


def assert_refused(response: requests.Response, what: str, statuses=None) -> dict:
    """A clear 4xx in the one error shape."""
    assert 400 <= response.status_code < 500, f"{what}: HTTP {response.status_code} {response.text[:300]}"
    if statuses:
        assert response.status_code in statuses, f"{what}: HTTP {response.status_code} {response.text[:300]}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), \
        f"{what}: {response.headers.get('Content-Type')}"
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{what}: no error object: {response.text[:300]}"
    assert isinstance(error.get("code"), str) and error["code"], f"{what}: {error}"
    assert isinstance(error.get("message"), str) and error["message"], f"{what}: {error}"
    assert "field" in error and (error["field"] is None or isinstance(error["field"], str)), f"{what}: {error}"
    return error


def post_raw(world, path: str, data: bytes | str, token: str | None = None, headers: dict | None = None,
             json_type: bool = True) -> requests.Response:
    h = {"Content-Type": "application/json"} if json_type else {}
    if token is not False:
        h["Authorization"] = f"Bearer {token or world['education'].token}"
    h.update(headers or {})
    if isinstance(data, str):
        data = data.encode("utf-8")
    return requests.post(world["url"] + path, data=data, headers=h, timeout=60)


def institution_body(**overrides) -> dict:
    serial = random.randrange(10**8, 10**9)
    body = {"name": f"坏输入对照学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民BADX{serial}号",
            "licence_issued_on": "2021-06-18", "category": "学科类", "legal_form": "营利性",
            "township_code": TOWNSHIP, "address": "枞阳镇测试路2号"}
    body.update(overrides)
    return body


def bad_checksum(uscc: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return uscc[:-1] + next(c for c in alphabet if c != uscc[-1])


def test_malformed_and_oversized_json_is_refused_and_nothing_stored(bad_platform, world):
    before = settled_counts(bad_platform, world)
    good = json.dumps(institution_body(), ensure_ascii=False)
    bodies = {
        "truncated": good[:-5],
        "just a brace": "{",
        "trailing garbage": good + "}}",
        "not UTF-8": b"\xff\xfe{\x00\"\x00",
        "GBK bytes": good.encode("gbk"),
        "NaN": good[:-1] + ', "extra": NaN}',
        "Infinity": good[:-1] + ', "extra": -Infinity}',
        "array": "[" + good + "]",
        "string": json.dumps(good),
        "number": "12345",
        "null": "null",
        "deeply nested": "[" * 100_000 + "]" * 100_000,
        "oversized (2 MB)": json.dumps(institution_body(address="路" * (700 * 1024)), ensure_ascii=False),
        "single quotes": good.replace('"', "'"),
        "comment": "/* x */" + good,
    }
    for what, body in bodies.items():
        response = post_raw(world, "/api/institutions", body)
        assert_refused(response, what, {413} if what.startswith("oversized") else {400})
    # wrong content types and a form post to the JSON API
    response = post_raw(world, "/api/institutions", bodies["truncated"], headers={"Content-Type": "text/plain"})
    assert_refused(response, "text/plain, truncated", {400, 415})
    response = requests.post(world["url"] + "/api/institutions", data={"name": "表单"}, timeout=30,
                             headers={"Authorization": f"Bearer {world['education'].token}"})
    assert_refused(response, "form-encoded body")
    # declared length over the limit: refused before reading
    response = post_raw(world, "/api/institutions", b"{}", headers={"Content-Length": "0"})
    assert_refused(response, "empty object")
    assert counts(bad_platform) == before


WRONG_TYPES = [
    ("name", 123), ("name", None), ("name", ["枞阳"]), ("name", {"zh": "枞阳"}), ("name", True),
    ("name", ""), ("name", "   "), ("name", "校" * 5000),
    ("uscc", 913407221234567890), ("uscc", None), ("uscc", ["x"]),
    ("licence_no", 12345), ("licence_issued_on", 20210618), ("licence_issued_on", "2021-13-45"),
    ("licence_issued_on", "yesterday"), ("licence_issued_on", "9999-01-01"),
    ("category", 1), ("category", "数学类"), ("category", ["学科类"]),
    ("legal_form", False), ("legal_form", "有限公司"),
    ("township_code", 340722100), ("township_code", None), ("address", {"road": "渡江路"}),
    ("subjects", "数学"), ("subjects", [1, 2]), ("stages", "primary"),
]


def test_wrong_types_are_refused_with_the_field(bad_platform, world):
    before = settled_counts(bad_platform, world)
    for field_name, value in WRONG_TYPES:
        response = post_raw(world, "/api/institutions", json.dumps(institution_body(**{field_name: value})))
        error = assert_refused(response, f"{field_name}={value!r:.40}", {400})
        assert error["field"] in (field_name, "body", None) or error["field"].startswith(field_name), \
            f"{field_name}={value!r:.40}: field {error['field']}"
    body = institution_body()
    del body["name"]
    assert_refused(post_raw(world, "/api/institutions", json.dumps(body)), "name missing", {400})
    assert counts(bad_platform) == before


def test_invalid_codes_are_refused(bad_platform, world):
    before = settled_counts(bad_platform, world)
    uscc = make_uscc(random.randrange(10**8, 10**9))
    for what, value in [("check character", bad_checksum(uscc)), ("17 characters", uscc[:-1]),
                        ("19 characters", uscc + "0"), ("lowercase letters", "91340722ma2xxxxx0x"),
                        ("letters I O S V Z", "9134072200000000IO"), ("spaces", f" {uscc[:9]} {uscc[9:]}"),
                        ("full-width digits", "９１３４０７２２１２３４５６７８９Ｘ")]:
        response = post_raw(world, "/api/institutions", json.dumps(institution_body(uscc=value), ensure_ascii=False))
        assert_refused(response, f"uscc {what}", {400})
    for code in ("999999999", "340722", "34072210X", "", "340722999", "0", "３４０７２２１００"):
        response = post_raw(world, "/api/institutions",
                            json.dumps(institution_body(township_code=code), ensure_ascii=False))
        assert_refused(response, f"township {code!r}", {400, 403, 404})
    # divisions and departments: codes that are not 行政区划 codes
    for code in ("12345", "3407221000", "abcdef", "340722100100100", ""):
        response = post_raw(world, "/api/divisions", json.dumps({"code": code, "name": "坏乡"}),
                            token=world["admin"].token)
        assert_refused(response, f"division code {code!r}", {400, 404, 409})
    # 身份证号 wherever the API takes one: staff members of an institution
    iid = world["institution"]["id"]
    for id_no in ("34072219900101123X"[:-1] + "0", "340722199013011234", "12345", "ABCDEFGHIJKLMNOPQR"):
        response = post_raw(world, f"/api/institutions/{iid}/staff", json.dumps(
            {"name": "张三", "id_number": id_no, "role": "teacher", "qualification_no": "20213400000001"}))
        assert response.status_code < 500, f"id {id_no}: {response.text[:300]}"
        if response.status_code != 404 and response.status_code != 405:
            assert_refused(response, f"身份证号 {id_no}", {400})
    assert counts(bad_platform) == before


BAD_MONEY = [-1, 0, -320000, 0.5, 320000.0, 3.2e5, "320000", "3200.00", True, None, 10**30, 2**63, [320000],
             {"fen": 320000}]


def test_bad_money_is_refused_and_no_contract_or_fee_item_stored(bad_platform, world):
    from datetime import date

    before = settled_counts(bad_platform, world)
    iid, item = world["institution"]["id"], world["item"]
    today = date.today()
    for value in BAD_MONEY:
        body = {"institution_id": iid, "contract_no": f"BAD-{random.randrange(10**9)}", "fee_item_id": item["id"],
                "student_name": "张小明", "class_hours": 40, "starts_on": today.isoformat(),
                "ends_on": (today + timedelta(days=60)).isoformat(), "amount_fen": value, "channel": "wechat"}
        response = post_raw(world, "/api/escrow/contracts", json.dumps(body))
        error = assert_refused(response, f"amount_fen={value!r:.40}", {400})
        assert error["field"] in ("amount_fen", "body"), f"amount_fen={value!r}: {error}"
        response = post_raw(world, f"/api/escrow/institutions/{iid}/fee-items",
                            json.dumps({"name": "坏价格", "price_per_hour_fen": value}))
        error = assert_refused(response, f"price_per_hour_fen={value!r:.40}", {400})
        for field_name in ("class_hours",):
            body2 = {**body, "amount_fen": 320000, field_name: value}
            assert_refused(post_raw(world, "/api/escrow/contracts", json.dumps(body2)),
                           f"{field_name}={value!r:.40}", {400})
    for field_name in ("fee_item_id", "institution_id"):
        for value in (10**30, 2**31, -1, 0):
            body = {"institution_id": iid, "contract_no": f"BAD-{random.randrange(10**9)}", "fee_item_id": item["id"],
                    "student_name": "张小明", "class_hours": 40, "starts_on": today.isoformat(),
                    "ends_on": (today + timedelta(days=60)).isoformat(), "amount_fen": 320000, "channel": "wechat",
                    field_name: value}
            assert_refused(post_raw(world, "/api/escrow/contracts", json.dumps(body)), f"{field_name}={value}")
    assert counts(bad_platform) == before


SQL = ["' OR 1=1 --", "1; DROP TABLE institutions; --", "\" OR \"\"=\"", "1' UNION SELECT password_hash FROM users --",
       "'; DELETE FROM complaints; --", "%' AND 1=1 AND '%'='"]


def test_sql_injection_is_data_never_sql(bad_platform, world):
    education = world["education"]
    before = settled_counts(bad_platform, world)
    for s in SQL:  # in codes: refused as invalid codes
        for field_name in ("uscc", "township_code", "category"):
            response = post_raw(world, "/api/institutions", json.dumps(institution_body(**{field_name: s})))
            assert_refused(response, f"{field_name}={s}", {400, 404})
        # in query parameters: filters that match nothing, or a clear 400
        for param in ("q", "township", "status", "category"):
            response = requests.get(world["url"] + "/api/institutions", params={param: s, "limit": 500}, timeout=30,
                                    headers={"Authorization": f"Bearer {education.token}"})
            assert response.status_code < 500, response.text[:300]
            if response.status_code == 200:
                assert response.json()["items"] == [], f"{param}={s} matched rows"
            else:
                assert_refused(response, f"GET ?{param}={s}")
        response = requests.get(f"{world['url']}/api/institutions/{s}", timeout=30,
                                headers={"Authorization": f"Bearer {education.token}"})
        assert_refused(response, f"path {s}", {400, 404})
        response = requests.get(f"{world['url']}/api/public/complaints/{s}", timeout=30)
        assert_refused(response, f"receipt {s}", {400, 404})
    assert counts(bad_platform) == before
    # as free text (a name) it is only text: stored verbatim, one row, every table still there
    name = "培训学校' OR 1=1 --; DROP TABLE institutions;"
    made = education.post("/api/institutions", institution_body(name=name))
    assert education.get(f"/api/institutions/{made['id']}")["name"] == name
    after = counts(bad_platform)
    assert after["registry.institutions"] == before["registry.institutions"] + 1


def read_back_exactly(response: requests.Response, value: str, what: str) -> None:
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.headers["Content-Type"].startswith("application/json"), what
    assert value in json.dumps(response.json(), ensure_ascii=False), f"{what}: not read back exactly"


def test_script_injection_comes_back_as_json_data(bad_platform, world):
    education = world["education"]
    script = "<script>alert(1)</script>"
    before = settled_counts(bad_platform, world)
    for what, value in [("name", f"培训学校{script}"), ("address", "枞阳镇<img src=x onerror=alert(1)>路")]:
        response = post_raw(world, "/api/institutions", json.dumps(institution_body(**{what: value})))
        assert response.status_code < 500, response.text[:300]
        if response.status_code == 201:
            iid = response.json()["id"]
            read_back_exactly(requests.get(f"{world['url']}/api/institutions/{iid}", timeout=30,
                                           headers={"Authorization": f"Bearer {education.token}"}), value, what)
            before["registry.institutions"] += 1
            before["registry.institution_status_history"] += 1
        else:
            assert_refused(response, what)
    marker = f"BADIN{random.randrange(10**9)}"
    response = requests.post(world["url"] + "/api/public/complaints", timeout=30,
                             json={"content": f"{marker} {script} 周末补课", "township_code": TOWNSHIP})
    assert response.status_code in (201, 400), response.text
    if response.status_code == 201:
        listed = requests.get(world["url"] + "/api/complaints", timeout=30,
                              headers={"Authorization": f"Bearer {education.token}"})
        assert listed.headers["Content-Type"].startswith("application/json")
        mine = [c for c in listed.json()["items"] if marker in (c.get("content") or "")]
        assert mine and mine[0]["content"] == f"{marker} {script} 周末补课"
    # the API never answers HTML for JSON routes, whatever the Accept header says
    response = requests.get(f"{world['url']}/api/institutions", headers={
        "Authorization": f"Bearer {education.token}", "Accept": "text/html"}, timeout=30)
    assert response.headers["Content-Type"].startswith("application/json")


RAW_ODD = {  # sent as raw JSON text, escapes and all
    "NUL": '"学校\\u0000名"',
    "lone high surrogate": '"学校\\ud800名"',
    "lone low surrogate": '"学校\\udc00名"',
    "reversed surrogates": '"学校\\udc00\\ud800名"',
}
ODD_BUT_TEXT = {  # unusual but text: refused, or stored and read back exactly
    "RTL override": "学校\u202e名称\u202c",
    "zero-width joiner": "学校\u200d\u200b名",
    "4-byte emoji": "学校👨‍👩‍👧🀄名",
    "combining marks": "学校Z\u0351\u0352\u0353名",
    "CJK extension B": "𠀀𪚥学校",
}


def test_odd_unicode_is_refused_or_kept_exactly(bad_platform, world):
    education = world["education"]
    before = settled_counts(bad_platform, world)
    for what, raw in RAW_ODD.items():  # cannot be stored as text anywhere: a 400, never a 500
        for field_name in ("name", "address"):
            body = json.dumps(institution_body(), ensure_ascii=False)
            body = body.replace(f'"{field_name}": "', f'"{field_name}": {raw[:-1]}', 1)
            response = post_raw(world, "/api/institutions", body)
            assert_refused(response, f"{what} in {field_name}", {400})
        response = post_raw(world, "/api/public/complaints", '{"content": ' + raw + ', "township_code": "340722100"}',
                            token=False)
        assert_refused(response, f"{what} in complaint", {400})
        response = post_raw(world, "/api/login", '{"username": ' + raw + ', "password": "x"}', token=False)
        assert_refused(response, f"{what} in login", {400, 401})
    assert counts(bad_platform) == before
    for what, value in ODD_BUT_TEXT.items():
        response = post_raw(world, "/api/institutions", json.dumps(institution_body(name=value), ensure_ascii=False))
        assert response.status_code < 500, f"{what}: {response.text[:300]}"
        if response.status_code == 201:
            got = education.get(f"/api/institutions/{response.json()['id']}")["name"]
            assert got == value, f"{what}: {got!r} != {value!r}"
        else:
            assert_refused(response, what, {400})


def _tokens(platform):
    secrets = json.loads((platform["var"] / "secrets.json").read_text())
    return secrets["session_signing_key"] if "session_signing_key" in secrets else secrets["actor_signing_key"] + ".session"


def test_forged_expired_and_tampered_sessions_are_refused(bad_platform, world):
    url = world["url"]
    before = settled_counts(bad_platform, world)
    me = world["education"].get("/api/me")
    uid = me.get("id") or me.get("user_id") or 1
    # the signed cookie of before issue 16 (a user id and a signature): no longer a way in, even signed right
    other = URLSafeTimedSerializer("not-the-deployment-key", salt="shuangjian.session").dumps({"uid": uid})
    signed = URLSafeTimedSerializer(_tokens(bad_platform), salt="shuangjian.session").dumps({"uid": uid})
    later = Client(url)  # a session of its own, which the gateway's clock will see 9 hours later
    later.login("jiaoti_clerk", DEMO_PASSWORD)
    expired = later.token
    good = world["education"].token
    tampered = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    flipped = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
    forged = {"other key": other, "old signed format": signed, "expired": expired, "tampered payload": tampered,
              "flipped signature": flipped, "empty": "", "garbage": "a.b.c", "huge": "x" * 20000, "unicode": "令牌"}
    body = json.dumps(institution_body())
    offset = bad_platform["var"] / "clock-offset"  # the gateway's session clock (tests/e2e/support.py)
    offset.write_text(str(9 * 3600))
    try:
        _each_forged(url, forged, body)
    finally:
        offset.unlink(missing_ok=True)
    assert counts(bad_platform) == before


def _each_forged(url, forged, body):
    for what, token in forged.items():
        for method, path, data in (("GET", "/api/me", None), ("POST", "/api/institutions", body),
                                   ("GET", "/api/institutions", None)):
            try:
                response = requests.request(method, url + path, data=data, timeout=30, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            except (UnicodeEncodeError, ValueError):
                continue  # the HTTP client itself refuses a non-Latin-1 header
            if what == "huge":  # over the HTTP server's header line limit: its own bare 400, before the app
                assert 400 <= response.status_code < 500, response.status_code
                continue
            error = assert_refused(response, f"{what} bearer {method} {path}", {400, 401, 431})
            if what == "expired":
                assert response.status_code == 401 and "过期" in error["message"], error
            cookies = {"sj_session": token}
            response = requests.request(method, url + path, data=data, cookies=cookies, timeout=30,
                                        headers={"Content-Type": "application/json"})
            assert_refused(response, f"{what} cookie {method} {path}", {400, 401, 403, 431})


def test_cookie_sessions_need_the_csrf_token(bad_platform, world):
    url, token = world["url"], world["education"].token
    admin_token = world["admin"].token
    before = settled_counts(bad_platform, world)
    body = json.dumps(institution_body())
    for headers in ({}, {"X-CSRF-Token": "0" * 40}, {"X-CSRF-Token": ""}):
        response = requests.post(url + "/api/institutions", data=body, cookies={"sj_session": token}, timeout=30,
                                 headers={"Content-Type": "application/json", **headers})
        error = assert_refused(response, f"cookie POST without a valid CSRF token {headers}", {403})
        assert error["code"] == "csrf_failed", error
    # the pages' forms: a cross-site form post without csrf_token changes nothing
    if requests.get(url + "/ui/login", timeout=30).status_code == 200:
        response = requests.post(url + "/ui/users", cookies={"sj_session": admin_token}, timeout=30,
                                 allow_redirects=False, data={"username": "csrf_victim", "password": "Csrf@2021x",
                                                              "department_id": "1", "roles": "admin"})
        assert response.status_code == 403, f"/ui/users without CSRF: {response.status_code}"
        response = requests.post(url + "/public/complaint", timeout=30, allow_redirects=False,
                                 data={"content": "无令牌的举报", "township_code": TOWNSHIP})
        assert response.status_code == 403, f"/public/complaint without CSRF: {response.status_code}"
    assert counts(bad_platform) == before


# -- the bus --------------------------------------------------------------------------------------------


def rabbit_queues(vhost: str) -> dict[str, int]:
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
                         capture_output=True, text=True).stdout
    queues = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            queues[parts[0]] = int(parts[1])
    return queues


def dlq_total(vhost: str, service: str) -> int | None:
    """Messages in the service's dead-letter queues (`dlq.*` naming the service); None when it has none."""
    queues = {n: m for n, m in rabbit_queues(vhost).items() if n.startswith("dlq.") and service in n}
    return sum(queues.values()) if queues else None


CONSUMERS = {  # exchange → (routing key, services whose consumers get it)
    "registry.events": ("institution_registered", ("reporting", "inspection", "escrow", "workflows")),
    "escrow.events": ("bank_transactions_booked", ("reporting", "escrow")),
    "inspection.events": ("complaint_received", ("reporting",)),
}


def bad_messages(event_type: str) -> list[tuple[bytes, str]]:
    envelope = {"event_id": "00000000-0000-0000-0000-00000000bad0", "type": event_type, "source": "x",
                "occurred_at": "2026-01-01T00:00:00+00:00", "division_code": TOWNSHIP, "actor": None, "data": {}}
    return [
        (b"this is not json {", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (json.dumps([1, 2, 3]).encode(), "application/json"),
        (json.dumps("a string").encode(), "application/json"),
        (b"{}", "application/json"),
        (json.dumps({"type": event_type}).encode(), "application/json"),
        (json.dumps({**envelope, "data": "not an object"}).encode(), "application/json"),
        (json.dumps({**envelope, "event_id": 5, "occurred_at": "yesterday"}).encode(), "application/json"),
        (json.dumps({**envelope, "data": {"id": "abc", "township_code": 12345, "institution_id": [],
                                          "institutions": "x", "receipt_no": None}}).encode(), "application/json"),
        (pickle.dumps({"type": event_type}), "application/x-python-serialize"),
        (b"<xml/>", "application/xml"),
    ]


def publish_raw(amqp_uri: str, exchange: str, routing_key: str, messages) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        ex = Exchange(exchange, type="topic", durable=True)
        ex(channel).declare()
        producer = Producer(channel, exchange=ex)
        for body, content_type in messages:
            producer.publish(body, routing_key=routing_key, content_type=content_type, content_encoding="binary",
                             delivery_mode=2, serializer=None, retry=False)


def alive(platform) -> list[str]:
    from tests.e2e.support import running

    dead = []
    for pid_file in (platform["var"] / "run").glob("*.pid"):
        if not running(int(pid_file.read_text())):
            dead.append(pid_file.stem)
    return dead


def test_malformed_events_on_the_bus_store_nothing_and_consumers_keep_working(bad_platform, world):
    env = bad_platform["env"]
    amqp = env["SHUANGJIAN_AMQP_URI"]
    vhost = amqp.rsplit("/", 1)[1]
    education = world["education"]
    time.sleep(2)  # anything the fixtures caused has been applied
    before = settled_counts(bad_platform, world)
    dlq_before = {s: dlq_total(vhost, s) for s in ("registry", "escrow", "inspection", "reporting", "workflows")}
    sent_to = {}
    for exchange, (routing_key, services) in CONSUMERS.items():
        messages = bad_messages(routing_key)
        publish_raw(amqp, exchange, routing_key, messages)
        for s in services:
            sent_to[s] = sent_to.get(s, 0) + len(messages)
    time.sleep(5)  # let every consumer chew on them
    assert counts(bad_platform) == before, "a malformed event stored something"
    assert alive(bad_platform) == [], f"processes died on malformed events: {alive(bad_platform)}"

    # good events after the bad ones are applied by every consumer
    serial = random.randrange(10**8, 10**9)
    made = education.post("/api/institutions", institution_body(uscc=make_uscc(serial)))
    iid = made["id"]

    def applied():
        now = counts(bad_platform)
        return (now["reporting.institution_facts"] == before["reporting.institution_facts"] + 1
                and now["inspection.inspection_targets"] == before["inspection.inspection_targets"] + 1
                and now["escrow.enrolment_eligibility"] >= before["escrow.enrolment_eligibility"] + 1)

    assert wait_until(applied, bool, seconds=60), f"registry events not applied after bad ones: {counts(bad_platform)}"

    def verification():
        try:
            return education.get(f"/api/institutions/{iid}/verification")
        except ApiError:
            return None

    assert wait_until(verification, lambda v: v is not None, seconds=60), "the workflow bridge stopped starting workflows"

    marker = f"BADBUS{serial}"
    response = requests.post(world["url"] + "/api/public/complaints", timeout=30,
                             json={"content": f"{marker} 周末补课", "township_code": TOWNSHIP})
    assert response.status_code == 201, response.text
    assert wait_until(lambda: counts(bad_platform)["reporting.complaint_facts"],
                      lambda n: n == before["reporting.complaint_facts"] + 1, seconds=60) \
        == before["reporting.complaint_facts"] + 1, "inspection events not applied after bad ones"

    account_no = world["account"]["account_no"]
    publish_batches(amqp, [encode_batch({"batch_id": f"badbus-{serial}", "bank_code": BANK, "transactions": [{
        "bank_tx_id": f"BADBUS{serial}", "account_no": account_no, "kind": "receipt", "amount_fen": 1234,
        "occurred_at": datetime.now(SHANGHAI).isoformat(timespec="seconds")}]})])

    def balance_fact():
        engine = create_engine(db_url(bad_platform, "reporting"), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM escrow_balance_facts WHERE institution_id = :i"),
                                    {"i": world["institution"]["id"]}).scalar()
        finally:
            engine.dispose()

    assert wait_until(balance_fact, lambda n: n >= 1, seconds=60) >= 1, "escrow events not applied after bad ones"

    # once the services dead-letter poison messages (dlq.* queues), the bad ones must be there
    # a failure that is not a DomainError is retried (1 + 2 + 3 + 4 s) before it is dead-lettered.
    # One of escrow's is no poison: an envelope whose data is {} is a well-formed booking of nothing
    # for escrow's own bank_transactions_booked handler (applied, nothing stored), so not dead-lettered.
    sent_to["escrow"] -= 1
    for service, n in sent_to.items():
        total = wait_until(lambda: dlq_total(vhost, service),
                           lambda t: t is None or t - (dlq_before[service] or 0) >= n, seconds=60)
        if total is not None:
            queues = rabbit_queues(vhost)
            assert total - (dlq_before[service] or 0) >= n, (
                f"{service}: {total} in its dead-letter queues, sent {n} bad; queues: "
                + ", ".join(f"{q}={m}" for q, m in sorted(queues.items()) if m or q.startswith("dlq.")))
    assert alive(bad_platform) == []


def test_malformed_bank_batches_are_dead_lettered_and_booked_nothing(bad_platform, world):
    amqp = bad_platform["env"]["SHUANGJIAN_AMQP_URI"]
    vhost = amqp.rsplit("/", 1)[1]
    account_no = world["account"]["account_no"]
    serial = random.randrange(10**8, 10**9)
    now = datetime.now(SHANGHAI).isoformat(timespec="seconds")

    def tx(i, **kw):
        return {"bank_tx_id": f"BADF{serial}-{i}", "account_no": account_no, "kind": "receipt", "amount_fen": 100,
                "occurred_at": now, **kw}

    bad = [b"not json", b"[]", encode_batch({"bank_code": BANK, "transactions": [tx(0)]}),
           encode_batch({"batch_id": "' OR 1=1 --", "bank_code": BANK, "transactions": [tx(1)]}),
           encode_batch({"batch_id": f"badf-{serial}-a", "bank_code": BANK, "transactions": "x"}),
           encode_batch({"batch_id": f"badf-{serial}-b", "bank_code": BANK, "transactions": [
               tx(2, amount_fen=-5), tx(3, amount_fen=1.5), tx(4, amount_fen="100"), tx(5, amount_fen=True),
               tx(6, amount_fen=10**30), tx(7, occurred_at="yesterday"), tx(8, kind="gift"),
               tx(9, account_no="1; DROP TABLE bank_transactions"), tx(10, bank_tx_id="\u0000"),
               tx(11, occurred_at=(datetime.now(SHANGHAI) + timedelta(days=3)).isoformat())]})]
    dlq_before = rabbit_queues(vhost).get(DLQ_QUEUE, 0)
    before = settled_counts(bad_platform, world)
    publish_batches(amqp, bad)
    publish_batches(amqp, [encode_batch({"batch_id": f"badf-{serial}-good", "bank_code": BANK,
                                         "transactions": [tx(99, amount_fen=4321)]})])
    engine = create_engine(db_url(bad_platform, "escrow"), poolclass=NullPool)
    try:
        def booked():
            with engine.connect() as conn:
                return conn.execute(text("SELECT bank_tx_id, amount_fen FROM bank_transactions "
                                         "WHERE bank_tx_id LIKE :p"), {"p": f"BADF{serial}-%"}).all()
        rows = wait_until(booked, lambda r: len(r) >= 1, seconds=60)
        time.sleep(1)
        rows = booked()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(f"BADF{serial}-99", 4321)], rows
    assert counts(bad_platform)["escrow.bank_transactions"] == before["escrow.bank_transactions"] + 1
    assert wait_until(lambda: rabbit_queues(vhost).get(DLQ_QUEUE, 0), lambda n: n >= dlq_before + len(bad),
                      seconds=30) >= dlq_before + len(bad)
    assert alive(bad_platform) == []
