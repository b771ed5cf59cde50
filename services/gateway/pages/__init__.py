"""Server-rendered pages of the gateway: one mixin GatewayService inherits (nameko collects the
entrypoints of base classes too: `inspect.getmembers` on the service class).

Pages render from the same RPC calls as the JSON API, with the same signed actor, so every rule is
still the owning service's. `/ui/…` needs a login (the `sj_session` cookie); `/public/…` does not.
Forms that change state carry the CSRF token (sessions.csrf_token_for; before login a
double-submit cookie); the JSON API checks the same token in `X-CSRF-Token` for cookie sessions.
"""
from __future__ import annotations

from .admin import AdminPages
from .calendar import CalendarPages
from .cases import CasePages
from .complaints import ComplaintPages
from .escrow import EscrowPages
from .home_figures import HomeFigures
from .inspection import InspectionPages
from .institution_portal import InstitutionPortalPages
from .institutions import InstitutionPages
from .parent import ParentPages
from .public import PublicPages
from .reports import ReportPages
from .session import PageBase
from .settings import SettingsPages
from .supervision import SupervisionPages


class PagesMixin(PageBase, CasePages, InstitutionPages, ComplaintPages, ReportPages, InspectionPages,
                 EscrowPages, SupervisionPages, AdminPages, PublicPages, SettingsPages, HomeFigures, CalendarPages,
                 InstitutionPortalPages, ParentPages):  # issue 14: 机构端, 家长端
    """Every desk's pages, one module per desk; GatewayService inherits this."""


__all__ = ["PagesMixin"]
