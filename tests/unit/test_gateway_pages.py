"""The pages' security pieces without a server: the CSRF token of a session, which requests must
carry it, and that GatewayService picks up the pages mixin's entrypoints."""
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.errors import Forbidden
from services.gateway.sessions import COOKIE_NAME, csrf_token_for, token_from_request


def request(method="GET", cookie=None, bearer=None, headers=None, form=None):
    builder = EnvironBuilder(method=method, path="/api/x", headers=headers or {}, data=form)
    if cookie:
        builder.headers["Cookie"] = f"{COOKIE_NAME}={cookie}"
    if bearer:
        builder.headers["Authorization"] = f"Bearer {bearer}"
    return Request(builder.get_environ())


def test_cookie_sessions_need_the_csrf_token_to_change_state():
    assert token_from_request(request("GET", cookie="tok")) == "tok"
    with pytest.raises(Forbidden) as info:
        token_from_request(request("POST", cookie="tok"))
    assert info.value.code == "csrf_failed"
    with pytest.raises(Forbidden):
        token_from_request(request("POST", cookie="tok", headers={"X-CSRF-Token": csrf_token_for("other")}))
    assert token_from_request(request("POST", cookie="tok", headers={"X-CSRF-Token": csrf_token_for("tok")})) == "tok"
    assert token_from_request(request("POST", cookie="tok", form={"csrf_token": csrf_token_for("tok")})) == "tok"
    # a Bearer token (the CLI) is exempt: a browser never sends one by itself
    assert token_from_request(request("POST", cookie="tok", bearer="cli")) == "cli"


def test_csrf_token_is_per_session_and_does_not_reveal_it():
    assert csrf_token_for("a") != csrf_token_for("b")
    assert "a" * 3 not in csrf_token_for("aaa") and len(csrf_token_for("a")) == 40


def test_gateway_service_has_the_pages_entrypoints():
    from nameko.containers import ServiceContainer

    from services.gateway.service import GatewayService

    container = ServiceContainer(GatewayService, {"AMQP_URI": "memory://"})
    routes = {(e.method, e.url) for e in container.entrypoints if hasattr(e, "url")}
    for expected in [("GET", "/ui/"), ("POST", "/ui/login"), ("GET", "/ui/cases/<string:workflow_id>"),
                     ("POST", "/ui/cases/<string:workflow_id>/decision"), ("GET", "/public/complaint"),
                     ("GET", "/api/public/institutions"), ("GET", "/api/inbox"), ("GET", "/static/<path:filename>")]:
        assert expected in routes


def test_every_template_compiles_and_declares_utf8():
    from pathlib import Path

    from services.gateway.pages.web import TEMPLATES, env

    for path in Path(TEMPLATES).glob("*.html"):
        env.get_template(path.name)
    assert '<meta charset="utf-8">' in (Path(TEMPLATES) / "base.html").read_text()
