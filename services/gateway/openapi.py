"""`GET /openapi.json`: the OpenAPI 3.0 document of the gateway's JSON routes, built from the class.

Every method of GatewayService carrying a `JsonHttp` entrypoint (the `api` decorator) becomes an
operation: method and path from the entrypoint (werkzeug converters `<int:x>` become path
parameters), the summary from the handler's docstring, query parameters and whether it reads a
JSON or a raw body from the handler's source (`request.args.get("x")`, `_int_arg(request, "x", …)`,
`read_json(request)`, `read_body(request)`, also in the `self._helper(…)` methods it calls), and
whether it needs a login (it calls `self._actor` / `self._signed`). So a new route appears without
further work; ROUTES adds what the source cannot say — request-body schemas, enums, formats and
better words. Entrypoints that are not JsonHttp (the HTML pages) or whose `produces` is not JSON
are left out. Errors: the one shape, `#/components/schemas/Error`, for every 4XX and 5XX.
"""
from __future__ import annotations

import inspect
import re
import textwrap
from functools import lru_cache

from .api import MAX_BODY_BYTES, MAX_PATH_INT, JsonHttp

OPENAPI_VERSION = "3.0.3"

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-zA-Z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_]\w*)>")
_INT_ARG = re.compile(r"(?:_int_arg|query_int)\(\s*request,\s*\"(\w+)\"")
_STR_ARG = re.compile(r"args\.get\(\s*\"(\w+)\"")
_HELPER = re.compile(r"self\.(_\w+)\(")
_STATUS = re.compile(r"return\s+(\d{3})\s*,")

# -- schema pieces -------------------------------------------------------------------------------

DATE = {"type": "string", "format": "date", "example": "2021-11-15"}
DATE_TIME = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_PATH_INT}
DIVISION_CODE = {"type": "string", "pattern": "^[0-9]{6}([0-9]{3})?$", "example": "340722"}
TOWNSHIP_CODE = {"type": "string", "pattern": "^[0-9]{9}$", "example": "340722100"}
DEPARTMENT_KINDS = ["education", "civil_affairs", "market_regulation", "public_security", "urban_management",
                    "township", "supervision_office", "ops"]
STATUSES = ["operating", "paused", "suspended_for_rectification", "deregistering", "deregistered"]
TEAM = {"type": "array", "items": {"type": "object", "properties": {
    "department_kind": {"type": "string", "enum": DEPARTMENT_KINDS}, "name": TEXT}}}


def obj(required: tuple[str, ...] = (), **properties) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def q(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    param = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


LIMIT = q("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "每页条数（1–500）")
OFFSET = q("offset", {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INT, "default": 0}, "跳过的条数")
REPORT_QUERY = [
    q("as_of", DATE, "报表日期（默认今天）"),
    q("division", DIVISION_CODE, "行政区划代码（默认本部署；市、省代码汇总下辖县）"),
    q("format", {"type": "string", "enum": ["json", "xlsx", "csv"], "default": "json"}, "json 或文件"),
]
FILE_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv")
ATTACHMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")

# -- what the source cannot say: bodies, enums, words ---------------------------------------------
# key: (METHOD, werkzeug rule). `body`: JSON request schema; `query`: parameters replacing the ones of
# the same name found in the source; `files`: extra response media types; `raw_types`: the media types of a
# raw body (default application/octet-stream); `summary`.

ROUTES: dict[tuple[str, str], dict] = {
    ("GET", "/openapi.json"): {"summary": "本文档（OpenAPI 3）"},
    ("GET", "/health"): {"summary": "各组件健康状况（任一异常时 503）", "statuses": (200, 503)},
    ("GET", "/health/live"): {"summary": "存活探针：进程能应答即 200"},
    ("GET", "/health/ready"): {"summary": "就绪探针：消息中间件与网关数据库可用时 200，否则 503", "statuses": (200, 503)},
    ("POST", "/api/login"): {
        "summary": "登录：返回令牌（Bearer）并设置会话 Cookie",
        "body": obj(("username", "password"), username=TEXT, password={"type": "string", "format": "password"}),
    },
    ("POST", "/api/logout"): {"summary": "退出登录（清除会话 Cookie）"},
    ("GET", "/api/me"): {"summary": "当前用户（签名的操作人）"},
    ("POST", "/api/divisions"): {"summary": "新增行政区划",
                                 "body": obj(("code", "name"), code={"type": "string", "pattern": "^[0-9]{6,9}$"},
                                             name=TEXT)},
    ("PUT", "/api/divisions/<string:code>"): {"summary": "修改区划名称（同一上级下不能重名）",
                                              "body": obj(("name",), name=TEXT)},
    ("POST", "/api/departments"): {"summary": "新增部门",
                                   "body": obj(("division_code", "kind"), division_code=DIVISION_CODE,
                                               kind={"type": "string", "enum": DEPARTMENT_KINDS}, name=TEXT)},
    ("GET", "/api/users"): {"summary": "用户列表（管理员）"},
    ("POST", "/api/users"): {
        "summary": "新建用户（管理员）",
        "body": obj(("username", "password", "department_id"), username={"type": "string", "pattern": "^[A-Za-z0-9_.-]{3,50}$"},
                    password={"type": "string", "format": "password"}, department_id=ID,
                    roles={"type": "array", "items": {"type": "string", "enum": ["clerk", "leader", "admin"]}},
                    display_name=TEXT),
    },
    ("POST", "/api/institutions"): {
        "summary": "登记校外培训机构",
        "body": obj(("name", "uscc", "licence_no", "category", "legal_form", "township_code", "address"),
                    name=TEXT, uscc={"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"}, licence_no=TEXT,
                    licence_issued_on=DATE, category={"type": "string", "enum": ["academic", "non_academic"]},
                    legal_form={"type": "string", "enum": ["for_profit", "non_profit"]}, township_code=TOWNSHIP_CODE,
                    address=TEXT, subjects={"type": "array", "items": TEXT},
                    stages={"type": "array", "items": {"type": "string",
                                                       "enum": ["preschool", "primary", "junior", "senior"]}}),
    },
    ("GET", "/api/institutions"): {
        "summary": "机构目录（搜索、按乡镇/类别/状态筛选）",
        "query": [q("township", TOWNSHIP_CODE), q("category", {"type": "string", "enum": ["academic", "non_academic"]}),
                  q("status", {"type": "string", "enum": STATUSES}), q("q", TEXT, "名称、信用代码或许可证号")],
    },
    ("POST", "/api/institutions/<int:institution_id>/status"): {
        "summary": "变更机构状态（带生效日期与原因）",
        "body": obj(("status", "reason"), status={"type": "string", "enum": STATUSES}, effective_on=DATE, reason=TEXT),
    },
    ("GET", "/api/institutions/<int:institution_id>/status"): {"query": [q("on", DATE, "哪一天（默认今天）")]},
    ("POST", "/api/institutions/<int:institution_id>/deregistration"): {
        "summary": "发起注销", "body": obj(("reason",), reason=TEXT)},
    ("POST", "/api/cases/<string:workflow_id>/decision"): {
        "summary": "部门对流程当前步骤作出决定",
        "body": obj(("action",), action={"type": "string", "enum": ["approve", "reject", "return", "request_documents",
                                                                  "documents_received"]},
                    reason=TEXT, return_to=TEXT, note=TEXT),
    },
    ("POST", "/api/cases/<int:case_id>/attachments"): {
        "summary": "为办件上传附件（请求体即文件：PDF/JPEG/PNG，≤ 10 MB）",
        "query": [q("filename", TEXT, "文件名（扩展名须与内容相符）"),
                  q("step", TEXT, "所属步骤（默认：本部门正在办理的当前步骤）")],
        "raw_types": ATTACHMENT_TYPES + ("application/octet-stream",)},
    ("GET", "/api/cases/<int:case_id>/attachments"): {"summary": "办件的附件（含 SHA-256）"},
    ("GET", "/api/registry/template"): {"summary": "台账模板（xlsx，含下拉列表与本县乡镇）", "files": FILE_TYPES[:1]},
    ("POST", "/api/registry/imports/preview"): {
        "summary": "预览台账文件（请求体即文件）：逐行列出将新增/更新/未变及错误，不保存",
        "query": [q("name", TEXT, "文件名（.xlsx 或 .csv）")], "raw_types": FILE_TYPES + ("application/octet-stream",)},
    ("GET", "/api/cases/attachments/<int:attachment_id>"): {"summary": "下载附件", "files": ATTACHMENT_TYPES},
    ("PUT", "/api/settings/county"): {
        "summary": "县级设置（部分更新）",
        "body": obj(conversion_deadline=DATE, conversion_variant={"type": "string", "enum": ["national", "hunan"]},
                    school_vacations={"type": "array", "items": obj(("name", "start", "end"), name=TEXT, start=DATE,
                                                                    end=DATE)},
                    reduction_baseline_date=DATE),
    },
    ("GET", "/api/calendar"): {
        "summary": "某年的放假安排与调休（来源：已导入、内置或法定节假日推算；后者为暂定）",
        "query": [q("year", {"type": "integer", "minimum": 2000, "maximum": 2099}, "年份（默认今年）")],
    },
    ("GET", "/api/calendar/schedules"): {"summary": "已导入的国务院放假安排（每年一份）"},
    ("POST", "/api/calendar/schedules"): {
        "summary": "导入国务院放假安排（管理员或运维；逐日列出“休”和调休上班的“班”，整年替换并重算进行中的期限）",
        "body": obj(("days",), days={"type": "array", "minItems": 1, "maxItems": 400, "items": obj(
            ("date", "kind"), date=DATE, kind={"type": "string", "enum": ["休", "班"]}, name=TEXT)}),
    },
    ("POST", "/api/public/complaints"): {
        "summary": "公众举报（无需登录；每 IP 每 10 分钟 5 次）",
        "body": obj(("content",), content=TEXT, institution_name=TEXT, institution_id=ID, township_code=TOWNSHIP_CODE,
                    contact_phone={"type": "string", "pattern": "^1[0-9]{10}$"}),
    },
    ("GET", "/api/complaints"): {
        "query": [q("status", TEXT), q("department", {"type": "string", "enum": DEPARTMENT_KINDS}),
                  q("township", TOWNSHIP_CODE), q("channel", TEXT),
                  q("overdue", {"type": "string", "enum": ["true", "false"]}), q("as_of", DATE_TIME)],
    },
    ("POST", "/api/complaints/<int:complaint_id>/triage"): {
        "summary": "核实举报", "body": obj(("result",), result={"type": "string",
                                                               "enum": ["verified", "not_a_case", "duplicate"]},
                                       note=TEXT)},
    ("POST", "/api/complaints/<int:complaint_id>/assignment"): {
        "summary": "转办", "body": obj(("department",), department={"type": "string", "enum": DEPARTMENT_KINDS})},
    ("POST", "/api/complaints/<int:complaint_id>/reply"): {"summary": "答复", "body": obj(("reply",), reply=TEXT)},
    ("POST", "/api/complaints/<int:complaint_id>/closure"): {"summary": "办结", "body": obj(note=TEXT)},
    ("POST", "/api/complaints/overdue-scan"): {"query": [q("as_of", DATE_TIME)]},
    ("POST", "/api/inspection/campaigns"): {
        "summary": "新建专项检查（拉网式或双随机）",
        "body": obj(("name", "townships", "start_date", "end_date"), name=TEXT,
                    kind={"type": "string", "enum": ["sweep", "random"]},
                    mode={"type": "string", "enum": ["open", "covert"]},
                    townships={"type": "array", "items": TOWNSHIP_CODE}, start_date=DATE, end_date=DATE, team=TEAM,
                    rates=obj(**{g: {"type": "number", "minimum": 0, "maximum": 100} for g in "ABCD"}),
                    seed={"type": "integer"}),
    },
    ("POST", "/api/inspection/records"): {
        "summary": "记录一次检查（12 项清单与处理结果）",
        "body": obj(("institution_id", "inspectors", "checklist", "outcome"), institution_id=ID, campaign_id=ID,
                    mode={"type": "string", "enum": ["open", "covert"]}, inspected_at=DATE_TIME, inspectors=TEAM,
                    checklist={"type": "object", "additionalProperties": obj(
                        ("result",), result={"type": "string", "enum": ["pass", "fail", "na"]}, notes=TEXT)},
                    outcome=obj(("kind",), kind={"type": "string", "enum": ["pass", "rectify", "suspend", "refer"]},
                                deadline_workdays={"type": "integer", "minimum": 1},
                                referred_to={"type": "string", "enum": ["public_security", "market_regulation"]}),
                    notes=TEXT),
    },
    ("GET", "/api/reports/half-monthly"): {"summary": "半月报（JSON 或 xlsx/csv）", "query": REPORT_QUERY,
                                           "files": FILE_TYPES},
    ("GET", "/api/reports/weekly"): {"summary": "周报（周五至周四；JSON 或 xlsx/csv）", "query": REPORT_QUERY,
                                     "files": FILE_TYPES},
    ("GET", "/api/reports/submissions/<int:submission_id>"): {
        "query": [q("format", {"type": "string", "enum": ["json", "xlsx", "csv"]})], "files": FILE_TYPES},
    ("POST", "/api/reports/submissions"): {
        "summary": "报送（冻结）报表",
        "body": obj(("kind",), kind={"type": "string", "enum": ["half_monthly", "weekly"]}, division=DIVISION_CODE,
                    as_of=DATE, note=TEXT),
    },
    ("GET", "/api/reports/escrow-summary"): {"query": [q("as_of", DATE), q("division", DIVISION_CODE)]},
    ("GET", "/api/reports/institution-counts"): {"query": [q("as_of", DATE), q("division", DIVISION_CODE)]},
    ("GET", "/api/reports/freshness"): {
        "summary": "报表数据的更新进度（待计入的变更数；带 marks 时判断是否已计入该标记前的全部变更）",
        "query": [q("marks", {"type": "string", "pattern": r"^[a-z_]+:[0-9]{1,18}(,[a-z_]+:[0-9]{1,18})*$"})]},
    ("GET", "/api/reports/charts"): {"query": [q("division", DIVISION_CODE), q("from", DATE), q("to", DATE)]},
    # 机构端 and 家长端 (issue 14)
    ("POST", "/api/institutions/<int:institution_id>/accounts"): {
        "summary": "开通机构端账户（教体局负责人；该账户只能办理本机构业务）",
        "body": obj(("username", "password"), username=TEXT, password=TEXT, display_name=TEXT),
    },
    ("GET", "/api/escrow/contract-search"): {"query": [q("contract_no", TEXT, required=True)]},
    ("POST", "/api/escrow/contracts/<int:contract_id>/lessons/<int:lesson_no>/dispute"): {"body": obj(("reason",), reason=TEXT)},
    ("POST", "/api/public/contracts/<string:code>/lessons/<int:lesson_no>/dispute"): {
        "summary": "家长凭合同码对一次课提出异议（无需登录；按客户端限流）", "body": obj(("reason",), reason=TEXT)},
    ("POST", "/api/public/contracts/<string:code>/refunds"): {
        "summary": "家长凭合同码申请退费（无需登录；按客户端限流）",
        "body": obj(("amount_fen", "reason"), amount_fen={"type": "integer", "minimum": 0}, reason=TEXT)},
}

# -- the document ----------------------------------------------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "机器可读的错误代码，如 validation_failed、not_found"},
                "message": {"type": "string", "description": "给办事人员看的中文说明"},
                "field": {"type": "string", "nullable": True, "description": "出错的字段（请求体、查询参数或路径参数）"},
                "row": {"type": "integer", "description": "出错的行（导入时）"},
            },
        }
    },
}

ERROR_CODES = {
    "400": "请求有误（字段 `field` 指出哪里）", "401": "未登录或登录已过期", "403": "无权限", "404": "不存在",
    "405": "不支持的请求方法", "409": "与当前状态冲突", "413": f"请求体过大（一般接口 {MAX_BODY_BYTES >> 20} MB）",
    "422": "导入被拒（附每行错误）", "429": "过于频繁（见 Retry-After）",
    "4XX": "其他客户端错误", "5XX": "服务端或后台服务错误（502 后台出错、503 暂不可用）",
}


def _path_and_params(rule: str) -> tuple[str, list[dict]]:
    params = []

    def replace(match):
        conv, name = match.group("conv") or "default", match.group("name")
        if conv == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INT}
        elif conv == "float":
            schema = {"type": "number", "minimum": 0}
        elif conv == "uuid":
            schema = {"type": "string", "format": "uuid"}
        elif conv == "any":
            schema = {"type": "string", "enum": [a.strip().strip("'\"") for a in (match.group("args") or "").split(",")]}
        elif conv == "path":
            schema = {"type": "string", "minLength": 1}
        else:  # string / default: one path segment
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _CONVERTER.sub(replace, rule), params


def _source(cls, fn, seen=None) -> str:
    """The handler's source plus that of the `self._helper(…)` methods it calls (transitively)."""
    seen = seen if seen is not None else set()
    if fn in seen:
        return ""
    seen.add(fn)
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return ""
    parts = [text]
    for name in _HELPER.findall(text):
        helper = inspect.getattr_static(cls, name, None)
        helper = getattr(helper, "__func__", helper)
        if callable(helper):
            parts.append(_source(cls, helper, seen))
    return "\n".join(parts)


def _is_json_route(entrypoint, fn) -> bool:
    if not isinstance(entrypoint, JsonHttp):
        return False
    if getattr(entrypoint, "produces", "application/json") != "application/json":
        return False
    return not getattr(fn, "html_page", False)


def _operation(cls, name: str, fn, method: str, rule: str) -> tuple[str, dict]:
    path, path_params = _path_and_params(rule)
    source = _source(cls, fn)
    extra = ROUTES.get((method, rule), {})
    doc = inspect.getdoc(fn) or ""
    summary = extra.get("summary") or (doc.splitlines()[0] if doc else name.replace("_", " "))

    query: dict[str, dict] = {}
    for arg in _STR_ARG.findall(source):
        query.setdefault(arg, q(arg, TEXT))
    for arg in _INT_ARG.findall(source):
        query[arg] = q(arg, {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INT})
    if "paging(" in source or "page_items(" in source or "limit" in query:
        query["limit"], query["offset"] = LIMIT, OFFSET
    for param in extra.get("query", ()):
        query[param["name"]] = param

    public = not re.search(r"self\._(actor|signed)\(", source)
    statuses = {int(s) for s in _STATUS.findall(source)}
    own = textwrap.dedent(inspect.getsource(fn))
    if re.search(r"return\s+(?!\d{3}\s*,)(?!limited\b)(?!_import_answer\()", own) or not statuses:
        statuses.add(200)  # a plain `return value`
    if "_import_answer(" in source:
        statuses |= {200, 201} if "created=True" in own else {200}
    statuses = set(extra.get("statuses", statuses))

    json_body = {"application/json": {"schema": {}}}
    responses: dict[str, dict] = {}
    for status in sorted(s for s in statuses if s < 400):
        content = dict(json_body)
        for media in extra.get("files", ()):
            content[media] = {"schema": {"type": "string", "format": "binary"}}
        responses[str(status)] = {"description": "成功", "content": content}
    for status in sorted(s for s in statuses if s >= 400):
        responses[str(status)] = {"$ref": "#/components/responses/Error"}
    error_codes = ["400", "404", "405", "413", "4XX", "5XX"]
    if not public:
        error_codes += ["401", "403", "409"]
    if "_rate_limited(" in source or "ratelimit" in source:
        error_codes.append("429")
    for code in error_codes:
        responses.setdefault(code, {"$ref": "#/components/responses/Error"})
    if "429" in responses:
        responses["429"] = {"$ref": "#/components/responses/RateLimited"}

    operation: dict = {
        "operationId": name,
        "summary": summary,
        "tags": [_tag(rule)],
        "parameters": path_params + sorted(query.values(), key=lambda p: p["name"]),
        "responses": responses,
    }
    if doc and doc.splitlines()[0] != summary or (doc and "\n" in doc):
        operation["description"] = doc
    if public:
        operation["security"] = []
    if "body" in extra:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": extra["body"]}}}
    elif "read_json(" in source:
        operation["requestBody"] = {"required": False,
                                    "content": {"application/json": {"schema": {"type": "object"}}}}
    elif "read_body(" in source:  # `raw_types`: the media types a raw body may be sent as
        operation["requestBody"] = {"required": True, "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in extra.get("raw_types", ("application/octet-stream",))}}
    return path, operation


def _tag(rule: str) -> str:
    parts = [p for p in rule.split("/") if p and not p.startswith("<")]
    if parts[:1] == ["api"]:
        parts = parts[1:]
    return parts[0] if parts else "platform"


def build(cls, title: str = "双减监管平台 gateway API", version: str = "0.1.0") -> dict:
    """The OpenAPI document of `cls`'s JSON routes (pure: no service runs)."""
    from .sessions import COOKIE_NAME

    paths: dict[str, dict] = {}
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        for entrypoint in getattr(fn, "nameko_entrypoints", ()):
            if not _is_json_route(entrypoint, fn):
                continue
            for method in entrypoint.method.split(","):
                method = method.strip().upper()
                path, operation = _operation(cls, name, fn, method, entrypoint.url)
                paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "县级“双减”监管平台的 JSON 接口。登录（POST /api/login）取得令牌，以 `Authorization: Bearer` "
                "发送；浏览器用会话 Cookie，改变状态的请求还须带 `X-CSRF-Token`。每个错误都是同一形状 "
                "`{\"error\": {\"code\", \"message\", \"field\"}}`。列表支持 `limit`/`offset`。"
            ),
        },
        "paths": dict(sorted(paths.items())),
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "POST /api/login 返回的 token"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME,
                                  "description": "登录时设置；POST/PUT 还须带 X-CSRF-Token 头"},
            },
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {
                "Error": {"description": "错误（统一形状）",
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "RateLimited": {
                    "description": "过于频繁",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "秒"}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        },
    }


@lru_cache(maxsize=4)
def document(cls) -> dict:
    """Built once per class per process."""
    try:
        from importlib.metadata import version

        project_version = version("shuangjian")
    except Exception:  # not installed: a checkout run in place
        project_version = "0.1.0"
    return build(cls, version=project_version)
