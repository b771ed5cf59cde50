"""The JSON edge: one error shape and one table from errors (ours and remote ones) to HTTP codes.

Every error the gateway answers with is `{"error": {"code", "message", "field"}}` (plus `row`
when a row is known, and a route may add details such as an import's `errors`): the errors a
handler raises, the DomainErrors services raise over RPC, nameko's transport failures,
werkzeug's own 404/405 (`JsonWebServer`), malformed or oversized bodies (`read_json`,
`read_body`). The HTTP status of each comes from ERROR_TABLE, searched along the exception's
class hierarchy, and from nowhere else.
"""
from __future__ import annotations

import json
import time

from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import MethodNotFound, RemoteError, UnknownService
from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.common.context import CORRELATION_HEADER, CORRELATION_KEY
from services.common.rpc_timeouts import RpcTimedOut
from services.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from services.common.logging import get_logger
from services.common.metrics import observe_http

from .ratelimit import TooManyAttempts

MAX_BODY_BYTES = 1 << 20  # every JSON body; bulk routes (ledger rows, files) pass their own limit
MAX_PATH_INT = 2**31 - 1  # ids are 32-bit in every database: a larger <int:…> cannot name a row


class PayloadTooLarge(DomainError):
    """The body is over the route's limit (raised by the gateway itself, never over RPC)."""

    code = "payload_too_large"


# THE table: exception class → (HTTP status, code, message). None keeps the exception's own code
# and message (DomainErrors: services raise them with a Chinese message and the field). Looked up
# along the class hierarchy, so a DomainError subclass a service adds later answers its parent's
# status unless it is listed here. Anything not in the table is a bug: 500, logged.
ERROR_TABLE: dict[type, tuple[int, str | None, str | None]] = {
    ValidationFailed: (400, None, None),
    NotAuthenticated: (401, None, None),
    Forbidden: (403, None, None),
    NotFound: (404, None, None),
    Conflict: (409, None, None),
    PayloadTooLarge: (413, None, None),
    TooManyAttempts: (429, None, None),  # login throttling (ratelimit.py)
    RpcTimedOut: (504, None, None),  # a service did not answer in time (services/common/rpc_timeouts.py)
    Unavailable: (503, None, None),
    DomainError: (400, None, None),
    UnknownService: (503, "service_unavailable", "后台服务暂不可用，请稍后再试"),
    # the broker away (restarting, unreachable) during an RPC: a clear 503, not an unhandled 500
    # (commands are idempotent or refuse a repeat with 409, so the client may retry)
    KombuOperationalError: (503, "service_unavailable", "消息服务暂不可用，请稍后再试"),
    MethodNotFound: (501, "not_implemented", "后台服务不支持此操作"),
    RemoteError: (502, "remote_error", "后台服务处理出错，已记录，请联系运维"),
}

# werkzeug's own errors (routing, protocol) keep their status; the code and message are ours.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式有误"),
    404: ("not_found", "没有这个地址"),
    405: ("method_not_allowed", "此地址不支持该请求方法"),
    413: ("payload_too_large", "请求体过大"),
    415: ("unsupported_media_type", "不支持的请求体类型"),
}

log = get_logger(component="gateway.api")


def status_for(exc: BaseException) -> int:
    """The HTTP status of an exception, from ERROR_TABLE (500 when it is not there)."""
    entry = _lookup(exc)
    if entry is not None:
        return entry[0]
    if isinstance(exc, HTTPException) and exc.code:
        return exc.code
    return 500


def _lookup(exc: BaseException):
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return None


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(
        json.dumps(payload, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
        headers=headers,
    )
    return with_security_headers(response)


def with_security_headers(response: Response) -> Response:
    """Answers are personal data: never cached, never sniffed; HSTS once served over TLS (ASVS 14.4)."""
    from .sessions import secure_cookies

    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if secure_cookies():
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def error_response(exc: BaseException) -> Response:
    entry = _lookup(exc)
    if entry is not None:
        status, code, message = entry
        if isinstance(exc, DomainError):
            body = exc.as_dict()
            if code is not None:
                body.update(code=code, message=message)
            return json_response({"error": body}, status)
        log.warning("remote_failure", error=repr(exc), status=status)
        return json_response(error_body(code, message), status)
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return http_error_response(exc)
    log.error("unhandled_error", error=repr(exc))
    return json_response(error_body("internal_error", "服务器内部错误，已记录"), 500)


def http_error_response(exc: HTTPException) -> Response:
    """werkzeug's 404/405/… in the one shape (with `Allow` on a 405)."""
    status = exc.code or 500
    code, message = HTTP_ERRORS.get(status, ("http_error", exc.name or "请求错误"))
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return json_response(error_body(code, message), status, headers=headers)


def _too_big(max_bytes: int) -> PayloadTooLarge:
    size = f"{max_bytes // (1 << 20)} MB" if max_bytes >= 1 << 20 else f"{max_bytes // 1024} KB"
    return PayloadTooLarge(f"请求体超过 {size}", field="body")


def read_body(request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, at most `max_bytes`: 413 `payload_too_large` beyond (a declared
    Content-Length is refused before reading; a chunked body stops being read at the limit)."""
    if request.content_length and request.content_length > max_bytes:
        raise _too_big(max_bytes)
    request.max_content_length = max_bytes
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_big(max_bytes) from None
    if len(raw) > max_bytes:
        raise _too_big(max_bytes)
    return raw


def _refuse_constant(name: str):
    raise ValueError(name)


def read_json(request, max_bytes: int = MAX_BODY_BYTES) -> dict:
    """The JSON body as an object ({} when empty). Not UTF-8, not JSON (NaN and Infinity are not
    JSON), nested too deep, or not an object: 400 `validation_failed`, field `body`."""
    raw = read_body(request, max_bytes)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed("请求体不是有效的 JSON（UTF-8）", field="body") from None
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    try:
        _refuse_unstorable(data, None)
    except RecursionError:
        raise ValidationFailed("请求体嵌套过深", field="body") from None
    return data


def _unstorable(text: str) -> bool:
    """NUL and unpaired surrogates (JSON allows "\\u0000" and "\\ud800") are no text a database or
    UTF-8 can hold: refused here, not failing deep in a service as a 5xx."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def _refuse_unstorable(value, field: str | None) -> None:
    if isinstance(value, str):
        if _unstorable(value):
            raise ValidationFailed("含有不能保存的字符（\\u0000 或不成对的代理项）", field=field or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _unstorable(key):
                raise ValidationFailed("字段名含有不能保存的字符", field="body")
            _refuse_unstorable(item, field or key)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable(item, field)


def query_int(request, name: str, default):
    """An integer query parameter: absent → `default`; not an integer or outside 0…2³¹−1 → 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed("应为整数", field=name) from None
    if not 0 <= value <= MAX_PATH_INT:
        raise ValidationFailed("应为 0 到 2147483647 之间的整数", field=name)
    return value


def page_items(request, result, max_limit: int = 500):
    """limit/offset on a list a service returns whole (`{"items": [...]}` or a list): without
    `limit` and `offset` everything, as before; with them one page, plus `total`."""
    from services.common.service_kit import paging

    if request.args.get("limit") in (None, "") and request.args.get("offset") in (None, ""):
        return result
    limit, offset = paging(query_int(request, "limit", 100), query_int(request, "offset", 0), max_limit)
    if isinstance(result, list):
        return {"items": result[offset:offset + limit], "total": len(result), "limit": limit, "offset": offset}
    items = result.get("items") if isinstance(result, dict) else None
    if not isinstance(items, list):
        return result
    return {**result, "items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, with werkzeug's routing errors (404, 405) in the one error shape."""

    def __call__(self, environ, start_response):
        from werkzeug.wrappers import Request

        started = time.perf_counter()
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except HTTPException as exc:
            rv = exc.get_response(environ) if getattr(exc, "new_url", None) else http_error_response(exc)
            _observe(UNMATCHED_ROUTE, environ, rv, started)
            return rv(environ, start_response)
        request.path_values = values
        try:
            rv = provider.handle_request(request)
        except HTTPException as exc:
            rv = http_error_response(exc) if (exc.code or 500) < 500 else error_response(exc)
        _observe(getattr(provider, "url", UNMATCHED_ROUTE), environ, rv, started)
        return rv(environ, start_response)


UNMATCHED_ROUTE = "<unmatched>"  # the `route` label of requests no rule matched (404/405): bounded


def _observe(route: str, environ, response, started: float) -> None:
    """`http_requests_total{route, method, status}` and `http_request_seconds{route}`; route is the
    rule (`/api/institutions/<int:institution_id>`), never the raw path."""
    observe_http(route, environ.get("REQUEST_METHOD", "GET"), getattr(response, "status_code", 500),
                 time.perf_counter() - started)


class JsonWebServer(WebServer):
    """The gateway's HTTP server. Shared under nameko's WebServer key, so that every http
    entrypoint of the gateway process (JSON routes and HTML pages alike) runs on this one."""

    @property
    def sharing_key(self):
        return WebServer

    def get_wsgi_app(self):
        return JsonWsgiApp(self)


class HttpServer(DependencyProvider):
    """Declared on the gateway so that its JsonWebServer is bound before any entrypoint (nameko
    binds dependencies first): whatever http entrypoints the service has share this server."""

    server = JsonWebServer()

    def get_dependency(self, worker_ctx):
        return None


class JsonHttp(HttpRequestHandler):
    """nameko http entrypoint returning JSON; exceptions become the one error shape.

    `/openapi.json` lists every JsonHttp route (services/gateway/openapi.py); a subclass that
    serves something else (HTML pages) sets `produces` to its media type and is left out.
    """

    server = JsonWebServer()
    produces = "application/json"

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", DomainError)
        super().__init__(method, url, **kwargs)

    def get_entrypoint_parameters(self, request):
        args, kwargs = super().get_entrypoint_parameters(request)
        for name, value in kwargs.items():
            if isinstance(value, int) and value > MAX_PATH_INT:
                raise NotFound("没有这条记录", field=name)
        return args, kwargs

    def response_from_result(self, result):
        if isinstance(result, Response):
            response = result
        elif isinstance(result, tuple):
            response = json_response(result[1], result[0])
        else:
            response = json_response(result)
        return response

    def response_from_exception(self, exc):
        return error_response(exc)

    def handle_result(self, event, worker_ctx, result, exc_info):
        # remember the call's correlation id so the response can carry it back
        worker_ctx.args[0].correlation_id = worker_ctx.context_data.get(CORRELATION_KEY)
        return super().handle_result(event, worker_ctx, result, exc_info)

    def handle_request(self, request):
        response = super().handle_request(request)
        cid = getattr(request, "correlation_id", None)
        if cid:
            response.headers[CORRELATION_HEADER] = cid
        return response


api = JsonHttp.decorator


class TextHttp(JsonHttp):
    """An entrypoint answering a ready-made non-JSON Response (`/metrics`): left out of
    `/openapi.json` (openapi.py lists only `produces == application/json`)."""

    produces = "text/plain"


text_route = TextHttp.decorator
