"""运维 and 用户管理 pages."""
from __future__ import annotations


from services.common.errors import DomainError

from .. import identity
from .web import page, redirect
from .common import (_form_int, _temporal_ui_url, attempt)
from ..api import status_for


class AdminPages:
    # -- 运维 and users ---------------------------------------------------------------------------------

    @page("GET", "/ui/ops")
    def page_ops(self, request):
        from services.common.config import amqp_uri
        from services.common.logging import recent_errors

        from .. import health

        self._page_actor(request)
        signed = self._signed(request)
        proxies = {"registry": self.registry, "escrow": self.escrow, "inspection": self.inspection,
                   "reporting": self.reporting, "escrow_feed": self.escrow_feed}
        report = health.check_all(amqp_uri(), proxies, self.workflows)
        statuses = [{"service": "gateway", "queues": [], "errors": recent_errors()}]
        for name, proxy in [*proxies.items(), ("workflows", self.workflows)]:
            try:
                statuses.append(proxy.ops_status(signed))
            except DomainError as exc:  # not 运维: the page shows health only
                statuses.append({"service": name, "unavailable": exc.message})
            except Exception as exc:  # a process down or without the call: say so, keep the page
                statuses.append({"service": name, "unavailable": type(exc).__name__})
        calendar_next = attempt(self.registry.get_calendar_status, signed)  # issue 13: next year's schedule
        return self._render(request, "ops.html", title="运维监控", report=report, statuses=statuses,
                            temporal_ui=_temporal_ui_url(request), calendar_next=calendar_next)

    def _users_page(self, request, error=None, status=200, form=None):
        actor, _, _ = self._page_actor(request)
        users = identity.list_users(self.db, actor)
        departments = identity.list_departments(self.db, actor)
        return self._render(request, "users.html", status=status, title="用户管理", users=users,
                            departments=departments, error=error, form=form or {})

    @page("GET", "/ui/users")
    def page_users(self, request):
        return self._users_page(request)

    @page("POST", "/ui/users")
    def page_users_post(self, request):
        actor = self._page_post(request)
        form = request.form
        try:
            body = {"username": form.get("username", ""), "password": form.get("password", ""),
                    "display_name": form.get("display_name") or None,
                    "department_id": _form_int(form, "department_id", "部门"),
                    "roles": form.getlist("roles") or ["clerk"],
                    "must_change_password": form.get("must_change_password") == "1"}
            created = identity.create_user(self.db, actor, body)
        except DomainError as exc:
            return self._users_page(request, error=exc.message, status=status_for(exc), form=form)
        self.ctx.log.info("user_created", username=created["username"], via="page")
        return redirect("/ui/users", f"已创建用户 {created['username']}")

    @page("POST", "/ui/users/<int:user_id>/disable")
    def page_user_disable(self, request, user_id):
        return self._page_set_active(request, user_id, False)

    @page("POST", "/ui/users/<int:user_id>/enable")
    def page_user_enable(self, request, user_id):
        return self._page_set_active(request, user_id, True)

    def _page_set_active(self, request, user_id: int, active: bool):
        """Disabling ends every session of the user at once (issue 16)."""
        actor = self._page_post(request)
        try:
            view = identity.set_user_active(self.db, actor, user_id, active,
                                            lambda uid: self.auth.sessions.revoke_user(self.db, uid, "user_disabled"))
        except DomainError as exc:
            self.db.rollback()
            return self._users_page(request, error=exc.message, status=status_for(exc))
        self.ctx.log.info("user_enabled" if active else "user_disabled", username=view["username"], by=actor.username)
        return redirect("/ui/users", f"已{'启用' if active else '停用'}用户 {view['username']}")
