"""Escrow figures for reports (issue 4): supervised accounts open, funds under supervision and
open early-warning alerts, as of a day — read models fed only by escrow's events.

Events may arrive out of order: a closing that comes before its opening leaves a row whose
`opened_on` / `raised_on` is filled when the opening arrives; rows without it are not counted.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from services.common.divisions import scope_prefix, validate_code
from services.common.bulk_insert import insert_rows
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.workdays import SHANGHAI

from .handlers import parse_as_of, readable_division
from .models import EscrowAccountFact, EscrowAlertFact, EscrowBalanceFact, InstitutionFact, ProcessedEvent

def _local_day(iso: str) -> date:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).date()


def _account(session: Session, data: dict) -> EscrowAccountFact:
    row = session.get(EscrowAccountFact, int(data["account_id"]))
    if row is None:
        row = EscrowAccountFact(account_id=int(data["account_id"]), institution_id=int(data["institution_id"]),
                                division_code=validate_code(data["township_code"], field="data.township_code"))
        session.add(row)
    return row


def _account_opened(session: Session, event: dict) -> None:
    _account(session, event["data"]).opened_on = date.fromisoformat(event["data"]["opened_on"])


def _account_closed(session: Session, event: dict) -> None:
    data = event["data"]
    _account(session, data).closed_on = date.fromisoformat(data.get("closed_on") or _local_day(event["occurred_at"]).isoformat())


def _alert(session: Session, data: dict) -> EscrowAlertFact:
    row = session.get(EscrowAlertFact, int(data["alert_id"]))
    if row is None:
        row = EscrowAlertFact(alert_id=int(data["alert_id"]), institution_id=int(data["institution_id"]))
        session.add(row)
    row.division_code = validate_code(data["township_code"], field="data.township_code")
    row.kind = str(data["kind"])
    return row


def _alert_raised(session: Session, event: dict) -> None:
    data = event["data"]
    _alert(session, data).raised_on = _local_day(data.get("raised_at") or event["occurred_at"])


def _alert_closed(session: Session, event: dict) -> None:
    data = event["data"]
    _alert(session, data).closed_on = _local_day(data.get("closed_at") or event["occurred_at"])


def _balances_booked(session: Session, events: list) -> None:
    """A batch's booked balances at once: per institution and day the latest booking wins (a tie
    goes to the later event), as if the events were applied one by one in delivery order; one
    read of the rows they touch, updates in place, one insert of the new rows."""
    latest: dict[tuple[int, date], list] = {}  # key -> [booked_at, balance_fen, division_code]
    items = [(datetime.fromisoformat(e["occurred_at"]), item) for e in events
             for item in e["data"].get("institutions") or []]
    known = _known_divisions(session, {int(item["institution_id"]) for _, item in items
                                       if not item.get("township_code")})
    for booked_at, item in items:
        institution_id = int(item["institution_id"])
        division = item.get("township_code") or known.get(institution_id)
        if division is None:
            continue  # an institution no report can place yet
        key = (institution_id, booked_at.astimezone(SHANGHAI).date())
        balance = int(item["balance_fen"])
        seen = latest.get(key)
        if seen is None:
            latest[key] = [booked_at, balance, validate_code(division, field="data.township_code")]
        elif booked_at >= seen[0]:
            seen[0], seen[1] = booked_at, balance  # the division stays the first booking's
    for row in _balance_rows(session, latest):
        booked_at, balance, _ = latest.pop((row.institution_id, row.day))
        if booked_at >= row.booked_at:
            row.balance_fen, row.booked_at = balance, booked_at
    insert_rows(session, EscrowBalanceFact, [
        {"institution_id": iid, "day": day, "division_code": division, "balance_fen": balance, "booked_at": at}
        for (iid, day), (at, balance, division) in latest.items()])


def _known_divisions(session: Session, institution_ids: set[int]) -> dict[int, str]:
    """Where reports place institutions a booking did not: the registry's fact, else an account's."""
    found: dict[int, str] = {}
    for chunk in _chunks(sorted(institution_ids)):
        found |= dict(session.execute(select(EscrowAccountFact.institution_id, EscrowAccountFact.division_code)
                                      .where(EscrowAccountFact.institution_id.in_(chunk))).all())
        found |= dict(session.execute(select(InstitutionFact.institution_id, InstitutionFact.division_code)
                                      .where(InstitutionFact.institution_id.in_(chunk))).all())
    return found


def _balance_rows(session: Session, keys) -> list[EscrowBalanceFact]:
    days = {day for _, day in keys}
    rows = []
    for chunk in _chunks(sorted({iid for iid, _ in keys})):
        rows += session.scalars(select(EscrowBalanceFact).where(
            EscrowBalanceFact.institution_id.in_(chunk), EscrowBalanceFact.day.in_(days)))
    return [row for row in rows if (row.institution_id, row.day) in keys]


def _chunks(values: list, size: int = 500):
    for i in range(0, len(values), size):
        yield values[i:i + size]


# Each institution's latest booked balance by the day: one index seek per institution on the
# (institution_id, day) key, instead of grouping every booked day of every institution.
LATEST_BALANCES_SQL = text("""
SELECT COALESCE(SUM((SELECT b.balance_fen FROM escrow_balance_facts b
                     WHERE b.institution_id = i.institution_id AND b.day <= :day AND b.division_code LIKE :prefix
                     ORDER BY b.day DESC LIMIT 1)), 0)
FROM (SELECT institution_id FROM institution_facts WHERE division_code LIKE :prefix
      UNION SELECT institution_id FROM escrow_account_facts WHERE division_code LIKE :prefix) i
""")

APPLIERS = {
    "escrow_account_opened": _account_opened,
    "escrow_account_closed": _account_closed,
    "escrow_alert_raised": _alert_raised,
    "escrow_alert_closed": _alert_closed,
}


def apply_escrow_events(session: Session, event_type: str, events: list) -> int:
    if event_type == "bank_transactions_booked":
        return apply_batch(session, ProcessedEvent, events, bulk=_balances_booked)
    return apply_batch(session, ProcessedEvent, events, APPLIERS[event_type])


def escrow_summary(session: Session, actor: Actor, division_code: str | None = None, as_of: str | None = None) -> dict:
    division_code = readable_division(actor, division_code)
    day = parse_as_of(as_of)
    return {"as_of": day.isoformat(), "division_code": division_code,
            **escrow_figures(session, scope_prefix(division_code), day)}


def escrow_figures(session: Session, prefix: str, day: date) -> dict:
    """Accounts open, funds under supervision (latest booked balance per institution) and open alerts."""
    accounts_open = session.scalar(select(func.count()).select_from(EscrowAccountFact).where(
        EscrowAccountFact.division_code.startswith(prefix), EscrowAccountFact.opened_on <= day,
        or_(EscrowAccountFact.closed_on.is_(None), EscrowAccountFact.closed_on > day)))

    funds = session.scalar(LATEST_BALANCES_SQL, {"prefix": prefix + "%", "day": day})

    open_alerts = session.execute(
        select(EscrowAlertFact.kind, func.count()).where(
            EscrowAlertFact.division_code.startswith(prefix), EscrowAlertFact.raised_on <= day,
            or_(EscrowAlertFact.closed_on.is_(None), EscrowAlertFact.closed_on > day))
        .group_by(EscrowAlertFact.kind)).all()
    by_kind = {kind: int(n) for kind, n in open_alerts}
    return {
        "accounts_open": int(accounts_open or 0), "funds_under_supervision_fen": int(funds or 0),
        "alerts_open": sum(by_kind.values()), "alerts_open_by_kind": by_kind,
    }
