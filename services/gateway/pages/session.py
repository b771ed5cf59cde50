"""The pages' base: the page actor, CSRF-checked posts, rendering, the login and the home page."""
from __future__ import annotations

from services.common.errors import DomainError, NotAuthenticated, ValidationFailed

from .. import identity, ratelimit
from ..passwords import MIN_LENGTH
from ..sessions import COOKIE_NAME, CsrfRefused, clear_session_cookie, csrf_token_for, set_session_cookie
from . import web
from .web import page, redirect, render
from .common import (K, TooManyAttempts)
from ..api import status_for


PASSWORD_PAGE = "/ui/password"


class PageBase:
    # -- session, CSRF, login throttling ------------------------------------------------------------

    def _page_actor(self, request):
        token = request.cookies.get(COOKIE_NAME)
        if not token:
            raise NotAuthenticated("请先登录")
        row = self.auth.sessions.read(self.db, token)
        user, dept = identity.load_user(self.db, row.user_id)
        if request.path != PASSWORD_PAGE:
            identity.require_password_changed(user)  # the page entrypoint sends the user to /ui/password
        actor = identity.actor_for(user, dept)
        return actor, csrf_token_for(token), self.auth.sessions.expires_at(row)

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
        wait = ratelimit.login_wait(self.db, username, client)
        if wait:
            self.ctx.log.warning("login_throttled", user=username, client=client, retry_after=wait)
            raise TooManyAttempts(ratelimit.login_throttled_message(wait))
        try:
            user, dept = identity.authenticate(self.db, body)
        except NotAuthenticated:
            ratelimit.login_failed(self.db, username, client)
            raise
        ratelimit.login_succeeded(self.db, username, client)
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
            status = status_for(exc)
            return self.page_login(request, error=exc.message, status=status, username=form.get("username", ""))
        token = self._start_session(request, user, dept, via="page")
        nxt = form.get("next") or "/ui/"
        if user.must_change_password:
            nxt = PASSWORD_PAGE
        response = redirect(nxt if nxt.startswith("/ui/") else "/ui/")
        set_session_cookie(response, token, self.auth.sessions.max_age)
        return response

    @page("POST", "/ui/logout")
    def page_logout(self, request):
        if not web.check_session_csrf(request):
            raise CsrfRefused("请求缺少有效的 CSRF 令牌，请刷新页面后重试")
        self._end_session(request.cookies.get(COOKIE_NAME), "logout")
        response = redirect("/ui/login?" + "why=" + "已退出登录")
        clear_session_cookie(response)
        return response

    @page("GET", PASSWORD_PAGE)
    def page_password(self, request, error=None, status=200):
        actor, csrf, expires = self._page_actor(request)
        _, _, user, _ = self._session_user(request)
        return render("password.html", status=status, title="修改密码", actor=actor, csrf=csrf,
                      nav=web.nav_for(actor), session_expires=expires.isoformat(), path=request.path,
                      forced=bool(user.must_change_password), error=error, min_length=MIN_LENGTH)

    @page("POST", PASSWORD_PAGE)
    def page_password_post(self, request):
        self._page_post(request)
        _, _, user, dept = self._session_user(request)
        form = request.form
        if form.get("new_password", "") != form.get("confirm_password", ""):
            return self.page_password(request, error="两次输入的新密码不一致", status=400)
        try:
            identity.change_password(
                self.db, user, dept,
                {"current_password": form.get("current_password", ""), "new_password": form.get("new_password", "")},
                lambda uid: self.auth.sessions.revoke_user(self.db, uid, "password_changed"))
        except ValidationFailed as exc:
            self.db.rollback()
            return self.page_password(request, error=exc.message, status=400)
        self.ctx.log.info("password_changed", user=user.username, via="page")
        token = self.auth.sessions.issue(self.db, user.id, request.remote_addr)
        response = redirect("/ui/", "密码已修改，其他终端上的登录已全部失效")
        set_session_cookie(response, token, self.auth.sessions.max_age)
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
