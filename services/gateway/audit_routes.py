"""The gateway's side of the audit trail: ask every service to check its chain, read one trail."""
from __future__ import annotations

import eventlet

from services.common import audit
from services.common.errors import ValidationFailed

from .models import audit_trail

VERIFY_TIMEOUT_SECONDS = 120  # a long chain takes a while to walk
LIST_TIMEOUT_SECONDS = 30
GATEWAY_READ_ACTIONS = ("identity.manage_users",)


def _unavailable(name: str, exc: BaseException) -> dict:
    reason = "无响应（超时）" if isinstance(exc, eventlet.Timeout) else f"不可用：{exc.__class__.__name__}"
    return {"service": name, "entries": None, "ok": False, "first_bad_seq": None, "reason": reason,
            "last_hash": None, "unavailable": True}


def verify_all(session, actor, signed_actor: str, proxies: dict) -> list[dict]:
    """Each service's verify_audit, asked at once; then the gateway's own chain."""
    pending = {name: proxy.verify_audit.call_async(signed_actor) for name, proxy in proxies.items()}
    results = []
    for name, reply in pending.items():
        try:
            with eventlet.Timeout(VERIFY_TIMEOUT_SECONDS):
                results.append(reply.result())
        except (Exception, eventlet.Timeout) as exc:
            results.append(_unavailable(name, exc))
    results.append(audit.verify_for(session, actor, audit_trail))
    return results


def verify_status(results: list[dict]) -> int:
    if any(not r["ok"] and not r.get("unavailable") for r in results):
        return 409
    if any(r.get("unavailable") for r in results):
        return 503
    return 200


def list_one(session, actor, signer, proxies: dict, service: object, entity, entity_id, limit: int, offset: int):
    if service == "gateway":
        return audit.list_for(session, actor, audit_trail, GATEWAY_READ_ACTIONS, entity, entity_id, limit, offset)
    if service not in proxies:
        raise ValidationFailed(f"service 应为 {'、'.join([*proxies, 'gateway'])} 之一", field="service")
    with eventlet.Timeout(LIST_TIMEOUT_SECONDS):
        return proxies[service].list_audit(signer.sign(actor), entity, entity_id, limit, offset)
