"""机构端 and 家长端 routes of 一课一消 (issue 14): institution accounts opened by the bureau, the
contract search of an institution account, a lesson disputed, and the parent's contract by its code.

A mixin of GatewayService (services/gateway/service.py). The escrow service checks every call
against the actor's institution or the code presented; the gateway only limits the pace."""
from __future__ import annotations

from services.common.config import deployment
from services.common.contract_codes import normalize_code
from services.common.errors import NotFound, ValidationFailed
from services.common.identity import parent_actor

from .. import institution_accounts, ratelimit
from ..api import api, json_response, page_items, read_json
from ..pages.common import TooManyAttempts


class PortalRoutes:
    # -- 机构端 accounts: opened by the education bureau ----------------------------------------------

    def _institution_for_accounts(self, request, institution_id):
        actor = self._actor(request)
        return actor, self.registry.get_institution(self.auth.signer.sign(actor), institution_id)

    @api("GET", "/api/institutions/<int:institution_id>/accounts")
    def list_institution_accounts(self, request, institution_id):
        actor, institution = self._institution_for_accounts(request, institution_id)
        return page_items(request, {"items": institution_accounts.list_accounts(self.db, actor, institution)})

    @api("POST", "/api/institutions/<int:institution_id>/accounts")
    def create_institution_account(self, request, institution_id):
        """The institution's own login (机构端): {username, password, display_name}; 教体局 负责人 only.
        The account sees and acts on this institution's records only."""
        actor, institution = self._institution_for_accounts(request, institution_id)
        created = institution_accounts.create_account(self.db, actor, institution, read_json(request))
        self.ctx.log.info("institution_account_created", username=created["username"], institution_id=institution_id)
        return 201, created

    @api("GET", "/api/escrow/contract-search")
    def find_contract(self, request):
        """?contract_no=: one contract by its number; another institution's is refused (403)."""
        return self.escrow.find_contract(self._signed(request), request.args.get("contract_no") or "")

    @api("POST", "/api/escrow/contracts/<int:contract_id>/code")
    def reissue_contract_code(self, request, contract_id):
        """A new parent code for the contract (the old one stops working); 教体局 or the institution."""
        return self.escrow.reissue_contract_code(self._signed(request), contract_id)

    @api("POST", "/api/escrow/contracts/<int:contract_id>/lessons/<int:lesson_no>/dispute")
    def dispute_lesson(self, request, contract_id, lesson_no):
        """{reason}: the parent's dispute, recorded at the desk on the parent's word."""
        return self.escrow.dispute_lesson(self._signed(request), contract_id, lesson_no, read_json(request))

    # -- 家长端: the contract code, no login, rate-limited per client ---------------------------------

    def _parent_signed(self, request, code) -> str:
        """The parent actor for the code presented, or 429 when this client named too many codes (or
        too many wrong ones) lately. The escrow service decides whether the code fits a contract."""
        client = request.remote_addr or "unknown"
        wait = (ratelimit.contract_code_misses.wait(self.db, client)
                or ratelimit.contract_code_uses.take(self.db, client))
        if wait:
            seconds = ratelimit.retry_after(wait)
            self.ctx.log.warning("contract_code_rate_limited", client=client, retry_after=seconds)
            refusal = TooManyAttempts(f"操作过于频繁，请{seconds}秒后再试")
            refusal.retry_after = seconds
            raise refusal
        try:
            code = normalize_code(code)
        except ValidationFailed:
            ratelimit.contract_code_misses.take(self.db, client)
            raise
        return self.auth.signer.sign(parent_actor(deployment().root_code, code))

    def _parent_contract(self, request, code) -> tuple[str, dict]:
        signed = self._parent_signed(request, code)
        try:
            return signed, self.escrow.open_contract_by_code(signed)
        except NotFound:
            ratelimit.contract_code_misses.take(self.db, request.remote_addr or "unknown")
            raise

    def _parent_api(self, request, code, step=None):
        """A parent's JSON call: 429 with Retry-After when rate-limited, else `step(signed, contract)`
        (the contract's parent view when no step)."""
        try:
            signed, contract = self._parent_contract(request, code)
        except TooManyAttempts as exc:
            return json_response({"error": exc.as_dict()}, 429, headers={"Retry-After": str(exc.retry_after)})
        return contract if step is None else step(signed, contract)

    @api("GET", "/api/public/contracts/<string:code>")
    def public_contract(self, request, code):
        """No login: the contract whose code this is (the parent's view: terms, lessons, refunds).
        Rate-limited per client (429 with Retry-After)."""
        return self._parent_api(request, code)

    @api("POST", "/api/public/contracts/<string:code>/lessons/<int:lesson_no>/confirmation")
    def public_confirm_lesson(self, request, code, lesson_no):
        return self._parent_api(request, code, lambda signed, c: self.escrow.confirm_lesson(signed, c["id"], lesson_no))

    @api("POST", "/api/public/contracts/<string:code>/lessons/<int:lesson_no>/dispute")
    def public_dispute_lesson(self, request, code, lesson_no):
        """{reason}"""
        body = read_json(request)
        return self._parent_api(request, code,
                                lambda signed, c: self.escrow.dispute_lesson(signed, c["id"], lesson_no, body))

    @api("POST", "/api/public/contracts/<string:code>/refunds")
    def public_request_refund(self, request, code):
        """{amount_fen, reason}: back by the original channel; the institution answers within the period."""
        body = read_json(request)
        made = self._parent_api(request, code, lambda signed, c: self.escrow.request_refund(signed, c["id"], body))
        if not isinstance(made, dict):  # the 429
            return made
        return 201, made
