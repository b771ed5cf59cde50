"""资金监管 desk pages."""
from __future__ import annotations


from services.common.errors import DomainError

from .web import page


class EscrowPages:
    # -- escrow desk ---------------------------------------------------------------------------------

    @page("GET", "/ui/escrow")
    def page_escrow(self, request):
        signed = self._signed(request)
        accounts = self.escrow.list_accounts(signed, None, None)
        alerts = self.escrow.list_alerts(signed, 100, 0, {k: v for k, v in
                                                          {"status": request.args.get("status")}.items() if v})
        try:
            refunds = self.escrow.list_refunds(signed, None, None)
        except DomainError:
            refunds = None
        return self._render(request, "escrow.html", title="预收费资金监管", accounts=accounts, alerts=alerts,
                            refunds=refunds)
