"""The gateway's contract pieces without a platform: the one error table, bodies, paging, the
OpenAPI document built from a class."""
from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import MethodNotAllowed, NotFound as RouteNotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.errors import Conflict, DomainError, Forbidden, ValidationFailed
from services.gateway import openapi
from services.gateway.api import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    api,
    error_response,
    page_items,
    query_int,
    read_json,
    status_for,
)


def request(body: bytes = b"", query: str = "", **kw) -> Request:
    return Request(EnvironBuilder(method="POST", path="/x", query_string=query, data=body, **kw).get_environ())


def error_of(response):
    import json

    return json.loads(response.get_data())["error"]


@pytest.mark.parametrize("exc, status, code", [
    (ValidationFailed("x", field="a"), 400, "validation_failed"),
    (Forbidden("x"), 403, "forbidden"),
    (Conflict("x"), 409, "conflict"),
    (PayloadTooLarge("x", field="body"), 413, "payload_too_large"),
    (type("Local", (DomainError,), {"code": "local"})("x"), 400, "local"),
    (UnknownService("registry"), 503, "service_unavailable"),
    (RemoteError("TypeError", "boom"), 502, "remote_error"),
    (RouteNotFound(), 404, "not_found"),
    (MethodNotAllowed(["GET"]), 405, "method_not_allowed"),
    (KeyError("x"), 500, "internal_error"),
])
def test_one_table_one_shape(exc, status, code):
    response = error_response(exc)
    assert response.status_code == status == status_for(exc)
    error = error_of(response)
    assert error["code"] == code and error["message"] and "field" in error


@pytest.mark.parametrize("body", [b"\xff\xfe{", b"{nope", b"[1, 2]", b'"text"', b'{"a": NaN}', b"[" * 50_000])
def test_malformed_json_is_a_400_on_the_body(body):
    with pytest.raises(ValidationFailed) as info:
        read_json(request(body, content_type="application/json"))
    assert info.value.field == "body"


def test_bodies_over_the_limit_are_413_and_empty_is_an_empty_object():
    with pytest.raises(PayloadTooLarge):
        read_json(request(b" " * (MAX_BODY_BYTES + 1)))
    assert read_json(request(b"")) == {}
    assert read_json(request('{"名称": "x"}'.encode())) == {"名称": "x"}


def test_query_integers_and_paging():
    assert query_int(request(query="n=7"), "n", None) == 7
    assert query_int(request(), "n", 3) == 3
    for bad in ("x", "-1", "99999999999999999999"):
        with pytest.raises(ValidationFailed) as info:
            query_int(request(query=f"n={bad}"), "n", None)
        assert info.value.field == "n"
    whole = {"items": list(range(10))}
    assert page_items(request(), whole) is whole  # no limit/offset: as before
    page = page_items(request(query="limit=3&offset=8"), whole)
    assert page["items"] == [8, 9] and page["total"] == 10 and page["limit"] == 3
    with pytest.raises(ValidationFailed):
        page_items(request(query="limit=0"), whole)


class Sample:
    @api("POST", "/api/things")
    def create_thing(self, request):
        """Make a thing."""
        return 201, self.svc.create(self._signed(request), read_json(request))

    @api("GET", "/api/things/<int:thing_id>/parts/<string:part>")
    def get_part(self, request, thing_id, part):
        return self.svc.get(self._signed(request), thing_id, part, request.args.get("as_of"),
                            _int_arg(request, "limit", 100), _int_arg(request, "offset", 0))

    @api("GET", "/api/open")
    def open_route(self, request):
        return {"ok": True}

    @HttpRequestHandler.decorator("GET", "/ui/page")
    def a_page(self, request):
        return "<html></html>"


def _int_arg(request, name, default):  # the gateway's helper, as the source reads it
    return query_int(request, name, default)


def test_the_document_is_built_from_the_class():
    doc = openapi.build(Sample)
    assert set(doc["paths"]) == {"/api/things", "/api/things/{thing_id}/parts/{part}", "/api/open"}
    create = doc["paths"]["/api/things"]["post"]
    assert create["summary"] == "Make a thing." and "201" in create["responses"] and "security" not in create
    assert create["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"
    assert create["responses"]["4XX"] == {"$ref": "#/components/responses/Error"}
    part = doc["paths"]["/api/things/{thing_id}/parts/{part}"]["get"]
    params = {p["name"]: p for p in part["parameters"]}
    assert params["thing_id"]["in"] == "path" and params["thing_id"]["schema"]["type"] == "integer"
    assert params["part"]["schema"]["type"] == "string"
    assert params["as_of"]["in"] == "query" and params["limit"]["schema"]["maximum"] == 500
    assert doc["paths"]["/api/open"]["get"]["security"] == []
    assert doc["components"]["schemas"]["Error"]["properties"]["error"]["required"] == ["code", "message", "field"]


def test_the_document_is_valid_openapi():
    import schemathesis  # a test dependency (pyproject [test]): never skipped
    schema = schemathesis.openapi.from_dict(openapi.build(Sample))
    assert len([r.ok() for r in schema.get_all_operations()]) == 3
