"""The pages' plumbing: the `page` entrypoint (HTML, errors as pages), Jinja2, CSRF, navigation."""
from __future__ import annotations

import mimetypes
import secrets
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from urllib.parse import quote, urlencode

from eventlet.event import Event
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from services.common.errors import DomainError, NotAuthenticated
from services.common.identity import DEPARTMENT_NAMES, ROLE_NAMES, DepartmentKind, Role
from services.common.logging import get_logger
from services.common.money_text import yuan
from services.common.workdays import SHANGHAI

from ..sessions import COOKIE_NAME, CSRF_FIELD, csrf_matches
from ..api import status_for

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent.parent / "static"
PRE_CSRF_COOKIE = "sj_csrf"  # double-submit cookie of the forms used before login (login, public)

log = get_logger(component="gateway.pages")


def _local(value) -> str:
    """An ISO timestamp as officials read it: Beijing time, to the minute."""
    if not value or not isinstance(value, str):
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _time_left(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "无时限"
    seconds = int(seconds)
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    text = f"{days}天{hours}小时" if days else f"{hours}小时{(rest % 3600) // 60}分"
    return f"已超期{text}" if late else f"剩余{text}"


def _seconds_until(value) -> float | None:
    """An ISO deadline → seconds from now (negative when past)."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return (moment - datetime.now(timezone.utc)).total_seconds()


def _yuan(fen) -> str:
    if not isinstance(fen, (int, float)) or isinstance(fen, bool):
        return "—"
    return f"{yuan(int(fen), grouping=True)}元"


PROVISIONAL_HINT = "该年度国务院放假安排尚未导入：期限按法定节假日推算，导入正式安排后可能调整"


def _provisional(flag) -> Markup:
    """"（暂定）" after a deadline counted over a year without an official holiday schedule (issue 13)."""
    if not flag:
        return Markup("")
    return Markup('<span class="provisional" title="{}">（暂定）</span>').format(PROVISIONAL_HINT)


env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
env.filters["local"] = _local
env.filters["time_left"] = _time_left
env.filters["yuan"] = _yuan
env.filters["time_left_until"] = lambda deadline: _time_left(_seconds_until(deadline))  # "剩余3天4小时"
env.filters["provisional"] = _provisional
env.globals["weekday"] = lambda iso: datetime.fromisoformat(iso).weekday()
env.filters["urlencode_args"] = lambda args, offset: urlencode(
    [(k, v) for k, v in args.items(multi=True) if k != "offset"] + [("offset", max(0, offset))])
env.globals["DEPARTMENT_NAMES"] = {k.value: v for k, v in DEPARTMENT_NAMES.items()}
env.globals["ROLE_NAMES"] = {k.value: v for k, v in ROLE_NAMES.items()}
env.globals["CSRF_FIELD"] = CSRF_FIELD


# -- navigation per department ----------------------------------------------------------------------

K = DepartmentKind
HOME = ("首页（待办）", "/ui/")
INSTITUTIONS = ("机构名录", "/ui/institutions")
IMPORTS = ("台账导入", "/ui/imports")
COMPLAINTS = ("举报受理", "/ui/complaints")
ESCROW = ("资金监管", "/ui/escrow")
INSPECTION = ("检查执法", "/ui/inspection")
REPORTS = ("报表", "/ui/reports")
DASHBOARD = ("数据看板", "/ui/dashboard")
SUPERVISION = ("督导", "/ui/supervision")
OPS = ("运维监控", "/ui/ops")
USERS = ("用户管理", "/ui/users")
SETTINGS = ("设置", "/ui/settings")
CALENDAR = ("工作日历", "/ui/calendar")

NAV: dict[DepartmentKind, list[tuple[str, str]]] = {
    K.education: [HOME, INSTITUTIONS, IMPORTS, COMPLAINTS, ESCROW, INSPECTION, REPORTS, DASHBOARD, SUPERVISION,
                  SETTINGS, CALENDAR],
    K.civil_affairs: [HOME, INSTITUTIONS],
    K.market_regulation: [HOME, INSTITUTIONS, INSPECTION, ESCROW, COMPLAINTS],
    K.public_security: [HOME, INSTITUTIONS, INSPECTION, COMPLAINTS],
    K.urban_management: [HOME, INSTITUTIONS, INSPECTION, COMPLAINTS],
    K.township: [HOME, INSTITUTIONS, INSPECTION, COMPLAINTS],
    K.supervision_office: [HOME, INSTITUTIONS, SUPERVISION, COMPLAINTS, REPORTS, DASHBOARD, SETTINGS],
    K.ops: [HOME, OPS, INSTITUTIONS, IMPORTS, REPORTS, SETTINGS, CALENDAR],
}

HOME_TITLES = {
    K.education: "教体局工作台", K.civil_affairs: "民政局工作台", K.market_regulation: "市场监管局工作台",
    K.supervision_office: "督导室工作台", K.ops: "运维工作台", K.public_security: "公安局工作台",
    K.urban_management: "城管执法局工作台", K.township: "乡镇工作台",
}


def nav_for(actor) -> list[tuple[str, str]]:
    items = list(NAV.get(actor.department_kind, [HOME]))
    if actor.has_role(Role.admin) and USERS not in items:
        items.append(USERS)
    return items


# -- rendering ------------------------------------------------------------------------------------


def html(text: str, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(text, status=status, mimetype="text/html", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    from ..sessions import secure_cookies

    if secure_cookies():
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def render(template: str, status: int = 200, **context) -> Response:
    return html(env.get_template(template).render(**context), status)


def redirect(location: str, message: str | None = None, status: int = 303) -> Response:
    if message:
        location += ("&" if "?" in location else "?") + urlencode({"ok": message})
    response = Response("", status=status)
    response.headers["Location"] = location
    return response


def error_page(status: int, message: str, actor=None, csrf: str | None = None) -> Response:
    titles = {401: "请先登录", 403: "无权访问", 404: "未找到", 429: "操作过于频繁"}
    title = titles.get(status, "出错了")
    return render("error.html", status, title=title, message=message, actor=actor, code=status,
                  nav=nav_for(actor) if actor else [], csrf=csrf)


def static_file(filename: str) -> Response:
    root = STATIC.resolve()
    path = (root / filename).resolve()
    if root not in path.parents or not path.is_file():
        return error_page(404, "文件不存在")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind == "application/javascript":
        kind += "; charset=utf-8"
    response = Response(path.read_bytes(), headers={"Content-Type": kind})
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- CSRF for the forms before login (login, public complaint): double-submit cookie ------------------


def pre_csrf(request) -> tuple[str, bool]:
    """(token, whether it is new and must be set as the cookie)."""
    existing = request.cookies.get(PRE_CSRF_COOKIE)
    if existing and len(existing) == 32:
        return existing, False
    return secrets.token_hex(16), True


def set_pre_csrf(response: Response, token: str) -> Response:
    from ..sessions import secure_cookies

    response.set_cookie(PRE_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/", secure=secure_cookies())
    return response


def check_pre_csrf(request) -> bool:
    cookie = request.cookies.get(PRE_CSRF_COOKIE)
    presented = request.form.get(CSRF_FIELD)
    return bool(cookie and presented and secrets.compare_digest(cookie, presented))


def check_session_csrf(request) -> bool:
    return csrf_matches(request.cookies.get(COOKIE_NAME), request.form.get(CSRF_FIELD)
                        or request.headers.get("X-CSRF-Token"))


# -- the entrypoint -------------------------------------------------------------------------------


class PageHttp(HttpRequestHandler):
    """A nameko http entrypoint for HTML pages: an unauthenticated visitor is sent to the login
    page, a domain error becomes an error page with its status (403 page, 404 page, …)."""

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", DomainError)
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        request.shallow = False
        try:
            context_data = self.server.context_data_from_headers(request)
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, event))
            result = event.wait()
            return self.response_from_result(result)
        except Exception as exc:
            return self.page_from_exception(exc, request)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            return html(result[1], result[0])
        return html(result)

    def page_from_exception(self, exc, request):
        if getattr(exc, "code", None) == "password_change_required":
            return redirect("/ui/password")
        if isinstance(exc, NotAuthenticated):
            target = request.full_path.rstrip("?") if request.method == "GET" else "/ui/"
            response = redirect("/ui/login?" + urlencode({"next": target, "why": exc.message}))
            if request.cookies.get(COOKIE_NAME):
                response.delete_cookie(COOKIE_NAME, path="/")
            return response
        if isinstance(exc, DomainError):
            return error_page(status_for(exc), exc.message)
        if isinstance(exc, BadRequest):
            return error_page(400, "请求格式有误")
        log.error("page_error", path=request.path, error=repr(exc))
        status, message = 500, "服务器内部错误，已记录，请联系运维"
        name = exc.__class__.__name__
        if name in ("UnknownService", "RpcTimeout"):
            status, message = 503, "后台服务暂不可用，请稍后再试"
        elif name == "RemoteError":
            status, message = 502, "后台服务处理出错，已记录，请联系运维"
        return error_page(status, message)


page = PageHttp.decorator


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def quote_path(value: str) -> str:
    return quote(value, safe="")
