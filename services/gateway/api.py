"""The JSON edge: one error shape and one table from remote errors to HTTP codes."""
from __future__ import annotations

import json

from nameko.exceptions import MethodNotFound, RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Response

from services.common.context import CORRELATION_HEADER, CORRELATION_KEY
from services.common.errors import DomainError, ValidationFailed
from services.common.logging import get_logger

MAX_BODY_BYTES = 1 << 20

# Errors that are not DomainErrors, by class, to (status, code, Chinese message).
ERROR_TABLE: dict[type, tuple[int, str, str]] = {
    UnknownService: (503, "service_unavailable", "后台服务暂不可用，请稍后再试"),
    MethodNotFound: (501, "not_implemented", "后台服务不支持此操作"),
    RemoteError: (502, "remote_error", "后台服务处理出错，已记录，请联系运维"),
}

log = get_logger(component="gateway.api")


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
        headers=headers,
    )


def error_response(exc: BaseException) -> Response:
    if isinstance(exc, DomainError):
        return json_response({"error": exc.as_dict()}, exc.http_status)
    for cls, (status, code, message) in ERROR_TABLE.items():
        if isinstance(exc, cls):
            log.warning("remote_failure", error=repr(exc), status=status)
            return json_response({"error": {"code": code, "message": message, "field": None}}, status)
    log.error("unhandled_error", error=repr(exc))
    return json_response(
        {"error": {"code": "internal_error", "message": "服务器内部错误，已记录", "field": None}}, 500
    )


def read_body(request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    too_big = ValidationFailed(f"请求体超过 {max_bytes // 1024} KB", field="body")
    if request.content_length and request.content_length > max_bytes:
        raise too_big
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise too_big
    return raw


def read_json(request, max_bytes: int = MAX_BODY_BYTES) -> object:
    """The JSON body; `max_bytes` is raised only for the routes that carry bulk data."""
    raw = read_body(request, max_bytes)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("请求体不是有效的 JSON", field="body") from None


class JsonHttp(HttpRequestHandler):
    """nameko http entrypoint returning JSON; exceptions become the one error shape."""

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", DomainError)
        super().__init__(method, url, **kwargs)

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
