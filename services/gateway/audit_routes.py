"""The gateway's side of the audit trail: ask every service to check its chain, read one trail."""
from __future__ import annotations

import eventlet

from services.common import audit
from services.common.errors import ValidationFailed

from .audit_anchor import AnchorLog, AnchorProblem, check
from .models import audit_trail

VERIFY_TIMEOUT_SECONDS = 120  # a long chain takes a while to walk
LIST_TIMEOUT_SECONDS = 30
HEAD_TIMEOUT_SECONDS = 15
GATEWAY_READ_ACTIONS = ("identity.manage_users",)


def _unavailable(name: str, exc: BaseException) -> dict:
    reason = "无响应（超时）" if isinstance(exc, eventlet.Timeout) else f"不可用：{exc.__class__.__name__}"
    return {"service": name, "entries": None, "ok": False, "first_bad_seq": None, "reason": reason,
            "last_hash": None, "unavailable": True}


def anchor_now(session, signed_actor: str, proxies: dict, log: AnchorLog) -> dict:
    """Every chain's head (services asked at once) and the gateway's own, appended to the anchor
    file. A chain that no longer holds its last anchored entry (shortened or rewritten since) keeps
    that old anchor, so a later anchor never blesses the tampered chain; so does a service that
    does not answer. → the anchor written, with `mismatched`: the services whose chain broke."""
    previous = (log.latest() or {}).get("heads", {})  # AnchorProblem: the file itself was altered
    pending = {name: proxy.audit_head.call_async(signed_actor, _seq(previous, name))
               for name, proxy in proxies.items()}
    answers = {}
    for name, reply in pending.items():
        try:
            with eventlet.Timeout(HEAD_TIMEOUT_SECONDS):
                answers[name] = reply.result()
        except (Exception, eventlet.Timeout):
            answers[name] = None
    answers["gateway"] = audit_trail.head(session, _seq(previous, "gateway"))
    heads, mismatched = {}, []
    for name, head in answers.items():
        held = previous.get(name)
        if head is not None and (held is None or (head["last_seq"] >= held["seq"] and head["hash_at"] == held["hash"])):
            heads[name] = head
        elif held is not None:
            heads[name] = {"last_seq": held["seq"], "last_hash": held["hash"]}  # carried forward
            if head is not None:
                mismatched.append(name)
    return log.append(heads) | {"mismatched": mismatched}


def _seq(heads: dict, name: str):
    return heads[name]["seq"] if name in heads else None


def verify_all(session, actor, signed_actor: str, proxies: dict, log: AnchorLog | None = None):
    """Each service's verify_audit, asked at once; then the gateway's own chain; each compared
    with the latest anchor. → (results, {"at", "problem"} of the anchor file)."""
    anchor, problem = None, None
    try:
        anchor = log.latest() if log is not None else None
    except AnchorProblem as exc:
        problem = str(exc)

    def at(name):
        return anchor["heads"][name]["seq"] if anchor and name in anchor["heads"] else None

    pending = {name: proxy.verify_audit.call_async(signed_actor, at(name)) for name, proxy in proxies.items()}
    results = []
    for name, reply in pending.items():
        try:
            with eventlet.Timeout(VERIFY_TIMEOUT_SECONDS):
                results.append(reply.result())
        except (Exception, eventlet.Timeout) as exc:
            results.append(_unavailable(name, exc))
    results.append(audit.verify_for(session, actor, audit_trail, at("gateway")))
    for result in results:
        held = check(result, anchor)
        result["anchor"] = held
        if held and held["ok"] is False and result["ok"]:
            result.update(ok=False, first_bad_seq=held["seq"], reason=held["reason"])
    return results, {"at": anchor["at"] if anchor else None, "problem": problem}


def verify_status(results: list[dict], anchor: dict | None = None) -> int:
    if (anchor or {}).get("problem") or any(not r["ok"] and not r.get("unavailable") for r in results):
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
