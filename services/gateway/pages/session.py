"""The pages' base: the page actor, CSRF-checked posts, rendering, the login and the home page."""
from __future__ import annotations

from datetime import timedelta

from services.common.errors import DomainError, NotAuthenticated, ValidationFailed

from .. import identity, ratelimit
from ..sessions import COOKIE_NAME, CsrfRefused, csrf_token_for
from . import web
from .web import page, redirect, render
from .common import (K, TooManyAttempts)


class PageBase:
    # -- session, CSRF, login throttling ------------------------------------------------------------

    def _page_actor(self, request):
        token = request.cookies.get(COOKIE_NAME)
        if not token:
            raise NotAuthenticated("请先登录")
        uid, issued = self.auth.tokens.read_with_time(token)
        user, dept = identity.load_user(self.db, uid)
        actor = identity.actor_for(user, dept)
        expires = issued + timedelta(seconds=self.auth.tokens.max_age)
        return actor, csrf_token_for(token), expires

    def _page_post(self, request):
        """The actor of a state-changing form post: the session's CSRF token must come with it."""
        actor, csrf, expires = self._page_actor(request)
        if not web.check_session_csrf(request):
            raise CsrfRefused("请求缺少有效的 CSRF 令牌，请刷新页面后重试")
        return actor

    def _render(self, request, template, status=200, **context):
        actor, csrf, expires = self._page_actor(request)
        return render(template, status=status, actor=actor, csrf=csrf, nav=web.nav_for(actor),
                      session_expires=expires.isoformat(), ok=request.args.get("ok"), path=request.path,
                      **context)

    def _authenticate(self, request, body):
        """identity.authenticate with throttling: after 5 failures for a username from one client
        within 15 minutes, 429 (TooManyAttempts) without checking the password."""
        username = body.get("username") if isinstance(body, dict) else None
        client = request.remote_addr
        wait = ratelimit.login_wait(username, client)
        if wait:
            self.ctx.log.warning("login_throttled", user=username, client=client, retry_after=wait)
            raise TooManyAttempts(ratelimit.login_throttled_message(wait))
        try:
            user, dept = identity.authenticate(self.db, body)
        except NotAuthenticated:
            ratelimit.login_failed(username, client)
            raise
        ratelimit.login_succeeded(username, client)
        return user, dept

    def _townships(self, actor) -> dict:
        return {t["code"]: t["name"] for t in identity.township_directory(self.db, actor)}

    # -- static files and the login -----------------------------------------------------------------

    @page("GET", "/static/<path:filename>")
    def page_static(self, request, filename):
        return web.static_file(filename)

    @page("GET", "/")
    def page_root(self, request):
        return redirect("/ui/")

    @page("GET", "/ui/login")
    def page_login(self, request, error=None, status=200, username=""):
        token, new = web.pre_csrf(request)
        nxt = request.args.get("next") or request.form.get("next") or "/ui/"
        response = render("login.html", status=status, title="登录", pre_csrf=token, error=error,
                          why=request.args.get("why"), next=nxt if nxt.startswith("/ui/") else "/ui/",
                          username=username, actor=None, nav=[])
        return web.set_pre_csrf(response, token) if new else response

    @page("POST", "/ui/login")
    def page_login_post(self, request):
        if not web.check_pre_csrf(request):
            return self.page_login(request, error="页面已过期或缺少安全令牌，请重新提交", status=403)
        form = request.form
        try:
            user, dept = self._authenticate(request, {"username": form.get("username", ""),
                                                      "password": form.get("password", "")})
        except (TooManyAttempts, NotAuthenticated, ValidationFailed) as exc:
            status = exc.http_status
            return self.page_login(request, error=exc.message, status=status, username=form.get("username", ""))
        token = self.auth.tokens.issue(user.id)
        self.ctx.log.info("login", user=user.username, department=dept.kind, via="page")
        nxt = form.get("next") or "/ui/"
        response = redirect(nxt if nxt.startswith("/ui/") else "/ui/")
        response.set_cookie(COOKIE_NAME, token, max_age=self.auth.tokens.max_age, httponly=True,
                            samesite="Strict", path="/")
        return response

    @page("POST", "/ui/logout")
    def page_logout(self, request):
        self._page_post(request)
        response = redirect("/ui/login?" + "why=" + "已退出登录")
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    # -- home: the department's inbox ---------------------------------------------------------------

    @page("GET", "/ui/")
    def page_home(self, request):
        actor, _, _ = self._page_actor(request)
        if actor.department_kind is K.institution:  # an institution's account has its own pages (机构端)
            return redirect("/ui/portal")
        inbox = self.registry.list_inbox(self._signed(request))["items"]
        extra = {}
        if actor.department_kind in (K.education, K.supervision_office, K.market_regulation):
            try:
                extra["complaints"] = self.inspection.list_complaints(self._signed(request), {}, 10, 0)
            except DomainError:
                pass
        return self._render(request, "home.html", title=web.HOME_TITLES.get(actor.department_kind, "工作台"),
                            inbox=inbox, townships=self._townships(actor),
                            figures=self._home_figures(actor, self._signed(request), inbox), **extra)
