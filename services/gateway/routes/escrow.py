"""预收费资金监管 routes: bank statements, accounts, fee items, contracts, lessons, refunds, alerts.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations

import uuid


from services.common.bank_feed_wire import MAX_BATCH_ROWS, publish_batches, statement_chunk
from services.common.config import amqp_uri
from services.common.policy import authorize
from services.common.service_kit import paging

from ..api import api, page_items, read_json
from .common import MAX_IMPORT_BYTES, int_arg


class EscrowRoutes:
    # -- bank statements (对账单) into the bank feed (issue 4): chunks published as feed batches ----

    @api("POST", "/api/escrow/statements")
    def create_statement(self, request):
        """A statement id for an upload; chunk n becomes feed batch `stmt-<id>-<n>` (retries are idempotent)."""
        authorize(self._actor(request), "escrow.import_statement")
        return 201, {"statement_id": uuid.uuid4().hex, "chunk_rows": MAX_BATCH_ROWS}

    @api("POST", "/api/escrow/statements/<string:statement_id>/chunks/<int:chunk>")
    def add_statement_chunk(self, request, statement_id, chunk):
        """Body {bank_code, transactions: [...]} (the feed's wire format, rows numbered). 202: queued;
        the bank feed checks and books it — GET the statement for the outcome."""
        actor = self._actor(request)
        authorize(actor, "escrow.import_statement")
        batch_id, body = statement_chunk(statement_id, chunk, read_json(request, max_bytes=MAX_IMPORT_BYTES),
                                         self.auth.signer.sign(actor))
        publish_batches(amqp_uri(), [body], headers={"nameko.correlation_id": self.ctx.correlation_id})
        return 202, {"batch_id": batch_id, "queued": True}

    @api("GET", "/api/escrow/statements/<string:statement_id>")
    def get_statement(self, request, statement_id):
        return self.escrow_feed.get_statement(self._signed(request), statement_id)

    @api("GET", "/api/escrow/feed/batches/<string:batch_id>")
    def get_feed_batch(self, request, batch_id):
        return self.escrow_feed.get_batch(self._signed(request), batch_id)

    # -- 预收费资金监管 (issue 4): accounts, fee items, contracts, lessons, refunds, alerts ----------

    @api("GET", "/api/escrow/settings")
    def get_escrow_settings(self, request):
        return self.escrow.get_escrow_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/escrow/settings")
    def set_escrow_settings(self, request):
        return self.escrow.set_escrow_settings(self._signed(request), request.args.get("county") or None,
                                               read_json(request))

    @api("GET", "/api/escrow/accounts")
    def list_escrow_accounts(self, request):
        args = request.args
        return page_items(request, self.escrow.list_accounts(self._signed(request), int_arg(request, "institution", None),
                                         args.get("status") or None))

    @api("POST", "/api/escrow/accounts")
    def open_escrow_account(self, request):
        return 201, self.escrow.open_account(self._signed(request), read_json(request))

    @api("GET", "/api/escrow/accounts/<int:account_id>")
    def get_escrow_account(self, request, account_id):
        """The account with its balance as booked by the bank and its history (开户、变更、销户)."""
        return self.escrow.get_account(self._signed(request), account_id)

    @api("GET", "/api/escrow/accounts/<int:account_id>/history")
    def escrow_account_history(self, request, account_id):
        return {"items": self.escrow.get_account(self._signed(request), account_id)["history"]}

    @api("POST", "/api/escrow/accounts/<int:account_id>/changes")
    def change_escrow_account(self, request, account_id):
        return self.escrow.change_account(self._signed(request), account_id, read_json(request))

    @api("POST", "/api/escrow/accounts/<int:account_id>/closure")
    def close_escrow_account(self, request, account_id):
        return self.escrow.close_account(self._signed(request), account_id, read_json(request))

    @api("GET", "/api/escrow/institutions/<int:institution_id>/fee-items")
    def list_fee_items(self, request, institution_id):
        return page_items(request, self.escrow.list_fee_items(self._signed(request), institution_id))

    @api("POST", "/api/escrow/institutions/<int:institution_id>/fee-items")
    def create_fee_item(self, request, institution_id):
        body = read_json(request)
        if isinstance(body, dict):
            body = {**body, "institution_id": institution_id}
        return 201, self.escrow.create_fee_item(self._signed(request), body)

    @api("POST", "/api/escrow/fee-items/<int:fee_item_id>/publication")
    def publish_fee_item(self, request, fee_item_id):
        return self.escrow.publish_fee_item(self._signed(request), fee_item_id)

    @api("POST", "/api/escrow/fee-items/<int:fee_item_id>/withdrawal")
    def withdraw_fee_item(self, request, fee_item_id):
        return self.escrow.withdraw_fee_item(self._signed(request), fee_item_id)

    @api("GET", "/api/escrow/contracts")
    def list_contracts(self, request):
        limit, offset = paging(int_arg(request, "limit", 100), int_arg(request, "offset", 0))
        return self.escrow.list_contracts(self._signed(request), limit, offset,
                                          int_arg(request, "institution", None), request.args.get("status") or None)

    @api("POST", "/api/escrow/contracts")
    def sign_contract(self, request):
        """The charge: 201 with the contract, or the refusal's reason (400/409) and nothing stored."""
        return 201, self.escrow.sign_contract(self._signed(request), read_json(request))

    @api("GET", "/api/escrow/contracts/<int:contract_id>")
    def get_contract(self, request, contract_id):
        return self.escrow.get_contract(self._signed(request), contract_id)

    @api("POST", "/api/escrow/contracts/<int:contract_id>/lessons")
    def deliver_lesson(self, request, contract_id):
        return 201, self.escrow.deliver_lesson(self._signed(request), contract_id, read_json(request))

    @api("POST", "/api/escrow/contracts/<int:contract_id>/lessons/<int:lesson_no>/confirmation")
    def confirm_lesson(self, request, contract_id, lesson_no):
        return self.escrow.confirm_lesson(self._signed(request), contract_id, lesson_no)

    @api("POST", "/api/escrow/contracts/<int:contract_id>/refunds")
    def request_refund(self, request, contract_id):
        return 201, self.escrow.request_refund(self._signed(request), contract_id, read_json(request))

    @api("GET", "/api/escrow/refunds")
    def list_refunds(self, request):
        return page_items(request, self.escrow.list_refunds(self._signed(request), int_arg(request, "institution", None),
                                        request.args.get("status") or None))

    @api("POST", "/api/escrow/refunds/<int:refund_id>/answer")
    def answer_refund(self, request, refund_id):
        return self.escrow.answer_refund(self._signed(request), refund_id, read_json(request))

    @api("POST", "/api/escrow/refunds/<int:refund_id>/payment")
    def record_refund_paid(self, request, refund_id):
        return self.escrow.record_refund_paid(self._signed(request), refund_id)

    @api("GET", "/api/escrow/institutions/<int:institution_id>/position")
    def escrow_position(self, request, institution_id):
        """Liability (未消课预收费), supervised balance, guarantee, releasable — integer fen."""
        return self.escrow.get_position(self._signed(request), institution_id)

    @api("GET", "/api/escrow/alerts")
    def list_escrow_alerts(self, request):
        limit, offset = paging(int_arg(request, "limit", 100), int_arg(request, "offset", 0))
        args = request.args
        filters = {"institution_id": args.get("institution"), "kind": args.get("kind"),
                   "status": args.get("status"), "township_code": args.get("township")}
        filters = {k: v for k, v in filters.items() if v}
        return self.escrow.list_alerts(self._signed(request), limit, offset, filters)

    @api("GET", "/api/escrow/alerts/<int:alert_id>")
    def get_escrow_alert(self, request, alert_id):
        return self.escrow.get_alert(self._signed(request), alert_id)

    @api("POST", "/api/escrow/alerts/<int:alert_id>/closure")
    def close_escrow_alert(self, request, alert_id):
        return self.escrow.close_alert(self._signed(request), alert_id, read_json(request))

    @api("POST", "/api/escrow/alerts/scan")
    def scan_escrow_alerts(self, request):
        """Run the time-based rules now (the platform runs them daily): ?division= (default: yours)."""
        actor = self._actor(request)
        return self.escrow.scan_alerts(self.auth.signer.sign(actor), request.args.get("division") or actor.division_code)

    @api("GET", "/api/inspection/leads")
    def inspection_leads(self, request):
        return page_items(request, self.inspection.list_leads(self._signed(request), request.args.get("status") or None))

    @api("POST", "/api/inspection/leads/<int:lead_id>/close")
    def close_inspection_lead(self, request, lead_id):
        return self.inspection.close_lead(self._signed(request), lead_id, read_json(request))
