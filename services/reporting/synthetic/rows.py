"""A synthetic province's rows for the reporting service's read models (`shuangjian dev generate`).

Row generators are pure and deterministic for a seed; load.py writes them.

Shape: province `34` → 16 cities (`3401`…) → 6 counties each (`340121`…) → 15 townships each
(`340121100`…, a township's code starts with its county's). Dates run from before the policy
(2021-07-24, the 压减率 baseline) to END; status changes, inspections and money all come after it.
Money is integer fen.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable, Iterator

BASELINE = date(2021, 7, 24)
END = date(2026, 11, 15)
ESCROW_START = date(2021, 9, 1)  # prepaid-fee supervision began with the autumn term
CITIES, COUNTIES_PER_CITY, TOWNSHIPS_PER_COUNTY = 16, 6, 15
ACADEMIC_SHARE = 0.6
STATUSES = ("operating", "paused", "suspended_for_rectification", "deregistering", "deregistered")
PLATFORM_FLAGS = ("platform_basic_info", "platform_staff", "platform_fund_supervision")
ALERT_KINDS = ("shortfall", "outflow_exceeds_lessons", "collected_outside_account", "delivery_stopped",
               "charge_over_cap")

# the registry's transition table (services/registry/domain.py), weighted for a plausible history
_NEXT = {
    "operating": (("paused", 5), ("suspended_for_rectification", 3), ("deregistering", 2)),
    "paused": (("operating", 5), ("deregistering", 4), ("suspended_for_rectification", 1)),
    "suspended_for_rectification": (("operating", 8), ("deregistering", 2)),
    "deregistering": (("deregistered", 9), ("operating", 1)),
}
# academic institutions existing at the baseline were mostly wound down (the 压减 itself)
_NEXT_ACADEMIC_FIRST = (("deregistering", 7), ("paused", 2), ("suspended_for_rectification", 1))

# table → columns, in load order; every one is a reporting read model
TABLES: dict[str, tuple[str, ...]] = {
    "county_report_settings": ("county_code", "baseline_date"),
    "institution_facts": ("institution_id", "division_code", "category", "registered_on", "version"),
    "institution_status_facts": ("id", "institution_id", "status", "effective_on", "seq"),
    "institution_attribute_facts": ("id", "institution_id", "attribute", "value", "effective_on", "version"),
    "campaign_facts": ("campaign_id", "division_code", "kind", "mode", "start_date", "end_date", "created_on",
                       "in_scope"),
    "inspection_facts": ("record_id", "institution_id", "division_code", "campaign_id", "inspected_on", "outcome",
                         "illegal_ad"),
    "order_facts": ("order_id", "institution_id", "division_code", "kind", "issued_on", "closed_on",
                    "escalated_on"),
    "complaint_facts": ("complaint_id", "division_code", "channel", "received_on", "verified_on", "overdue_on",
                        "closed_on"),
    "school_facts": ("school_id", "division_code", "registered_on"),
    "school_visit_facts": ("visit_id", "school_id", "division_code", "visited_on"),
    "homework_check_facts": ("id", "school_id", "division_code", "class_name", "checked_on", "period_to", "flagged"),
    "after_school_plan_facts": ("school_id", "school_year", "division_code", "filed_on", "deadline",
                                "participating", "enrolled"),
    "escrow_account_facts": ("account_id", "institution_id", "division_code", "opened_on", "closed_on"),
    "escrow_alert_facts": ("alert_id", "institution_id", "division_code", "kind", "raised_on", "closed_on"),
    "escrow_balance_facts": ("institution_id", "day", "division_code", "balance_fen", "booked_at"),
}
# serial ids written explicitly: their sequences are moved past the loaded rows afterwards
SERIAL_IDS = ("institution_status_facts", "institution_attribute_facts", "homework_check_facts")


@dataclass(frozen=True)
class Sizes:
    institutions: int = 20_000
    schools: int = 8_000
    transactions: int = 2_000_000
    inspections: int = 200_000


@dataclass(frozen=True)
class Province:
    code: str  # 2 digits
    cities: tuple[str, ...]  # 4-digit prefixes
    counties: tuple[str, ...]  # 6 digits
    townships: tuple[str, ...]  # 9 digits, each starting with its county


def make_province(code: str = "34") -> Province:
    if len(code) != 2 or not code.isdigit() or code == "00":
        raise ValueError("省级代码应为两位数字，如 34")
    cities = tuple(f"{code}{c:02d}" for c in range(1, CITIES + 1))
    # county suffixes from 21: never 00, which would be the city itself
    counties = tuple(f"{city}{21 + k:02d}" for city in cities for k in range(COUNTIES_PER_CITY))
    townships = tuple(f"{county}{100 + t:03d}" for county in counties for t in range(TOWNSHIPS_PER_COUNTY))
    return Province(code, cities, counties, townships)


@dataclass
class Institution:
    id: int
    township: str
    category: str  # at registration
    registered_on: date
    statuses: list[tuple[str, date]]  # (status, effective_on), seq = index
    attributes: list[tuple[str, str, date, int]]  # (attribute, value, effective_on, version)

    @property
    def deregistered_on(self) -> date | None:
        return self.statuses[-1][1] if self.statuses[-1][0] == "deregistered" else None

    @property
    def category_now(self) -> str:
        return max((a for a in self.attributes if a[0] == "category"), key=lambda a: a[3])[1]


def _rng(seed: int, stream: str) -> random.Random:
    # one stream per table: a table's rows do not depend on which tables were generated before it
    return random.Random(f"{seed}:{stream}")


def _day_between(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))


def _pick(rng: random.Random, weighted) -> str:
    total = sum(w for _, w in weighted)
    r = rng.random() * total
    for value, weight in weighted:
        r -= weight
        if r < 0:
            return value
    return weighted[-1][0]


def _status_history(rng: random.Random, academic_at_baseline: bool, registered_on: date) -> list[tuple[str, date]]:
    history = [("operating", registered_on)]
    day = max(registered_on, BASELINE)
    chance = 0.8 if academic_at_baseline else 0.22
    first = True
    while rng.random() < chance:
        status = history[-1][0]
        weighted = _NEXT_ACADEMIC_FIRST if first and academic_at_baseline else _NEXT[status]
        nxt = _pick(rng, weighted)
        gap = rng.randint(7, 240) if first and academic_at_baseline else rng.randint(10, 400)
        day = day + timedelta(days=gap)
        if day > END:
            break
        history.append((nxt, day))
        if nxt == "deregistered":
            break
        first = False
        chance = 0.9 if nxt == "deregistering" else 0.6 if nxt != "operating" else 0.2
    return history


def _attributes(rng: random.Random, category: str, registered_on: date, statuses) -> list[tuple[str, str, date, int]]:
    """Category and the national-platform flags, versioned in date order (the registry's record
    version): registration is version 1, each later change the next."""
    initial = [("category", category, registered_on)]
    changes: list[tuple[str, str, date]] = []
    ended = next((d for s, d in statuses if s in ("deregistering", "deregistered")), END)
    if category == "academic" and registered_on < BASELINE and ended == END and rng.random() < 0.35:
        changes.append(("category", "non_academic", _day_between(rng, date(2021, 9, 1), date(2022, 12, 31))))
    for flag in PLATFORM_FLAGS:
        if registered_on >= date(2022, 3, 1) and rng.random() < 0.8:
            initial.append((flag, "true", registered_on))
            continue
        initial.append((flag, "false", registered_on))
        if rng.random() < 0.85:
            lo = max(registered_on + timedelta(days=1), date(2022, 3, 1))
            changes.append((flag, "true", _day_between(rng, lo, max(lo, date(2023, 12, 31)))))
    rows = [(a, v, d, 1) for a, v, d in initial]
    for version, (a, v, d) in enumerate(sorted(changes, key=lambda c: c[2]), start=2):
        rows.append((a, v, min(d, END), version))
    return rows


def institutions(province: Province, n: int, seed: int) -> list[Institution]:
    rng = _rng(seed, "institutions")
    out = []
    for i in range(1, n + 1):
        township = province.townships[rng.randrange(len(province.townships))]
        category = "academic" if rng.random() < ACADEMIC_SHARE else "non_academic"
        if rng.random() < 0.85:  # most were licensed before the policy
            registered_on = _day_between(rng, date(2012, 1, 1), BASELINE - timedelta(days=1))
        else:
            registered_on = _day_between(rng, BASELINE, END)
        statuses = _status_history(rng, category == "academic" and registered_on < BASELINE, registered_on)
        out.append(Institution(i, township, category, registered_on, statuses,
                               _attributes(rng, category, registered_on, statuses)))
    return out


# -- row generators: each yields tuples in TABLES' column order ------------------------------------


def county_settings_rows(province: Province) -> Iterator[tuple]:
    for county in province.counties:
        yield county, BASELINE


def institution_rows(insts: list[Institution]) -> Iterator[tuple]:
    for inst in insts:
        yield inst.id, inst.township, inst.category_now, inst.registered_on, max(a[3] for a in inst.attributes)


def status_rows(insts: list[Institution]) -> Iterator[tuple]:
    row_id = 0
    for inst in insts:
        for seq, (status, day) in enumerate(inst.statuses):
            row_id += 1
            yield row_id, inst.id, status, day, seq


def attribute_rows(insts: list[Institution]) -> Iterator[tuple]:
    row_id = 0
    for inst in insts:
        for attribute, value, day, version in inst.attributes:
            row_id += 1
            yield row_id, inst.id, attribute, value, day, version


@dataclass(frozen=True)
class Campaign:
    id: int
    county: str
    start: date
    end: date


def campaigns(province: Province, n: int, seed: int) -> list[Campaign]:
    rng = _rng(seed, "campaigns")
    out = []
    for i in range(1, n + 1):
        start = _day_between(rng, BASELINE + timedelta(days=30), END - timedelta(days=30))
        out.append(Campaign(i, province.counties[rng.randrange(len(province.counties))], start,
                            start + timedelta(days=rng.randint(7, 30))))
    return out


def campaign_rows(camps: list[Campaign], insts: list[Institution], seed: int) -> Iterator[tuple]:
    rng = _rng(seed, "campaign_rows")
    per_county: dict[str, int] = {}
    for inst in insts:
        per_county[inst.township[:6]] = per_county.get(inst.township[:6], 0) + 1
    for c in camps:
        kind = "sweep" if rng.random() < 0.6 else "random"
        everyone = per_county.get(c.county, 0)
        in_scope = everyone if kind == "sweep" else (everyone + 4) // 5
        yield (c.id, c.county, kind, "open" if rng.random() < 0.7 else "covert", c.start, c.end,
               c.start - timedelta(days=rng.randint(1, 10)), in_scope)


def inspection_rows(insts: list[Institution], camps: list[Campaign], n: int, seed: int) -> Iterator[tuple]:
    rng = _rng(seed, "inspections")
    by_county: dict[str, list[Campaign]] = {}
    for c in camps:
        by_county.setdefault(c.county, []).append(c)
    for record_id in range(1, n + 1):
        inst = insts[rng.randrange(len(insts))]
        last = inst.deregistered_on or END
        lo = max(inst.registered_on, BASELINE)
        options = by_county.get(inst.township[:6])
        campaign = options[rng.randrange(len(options))] if options and rng.random() < 0.7 else None
        if campaign and campaign.end >= lo and campaign.start <= last:
            day = _day_between(rng, max(campaign.start, lo), min(campaign.end, last))
            campaign_id = campaign.id
        else:
            day, campaign_id = _day_between(rng, lo, max(lo, last)), None
        r = rng.random()
        outcome = "pass" if r < 0.8 else "rectify" if r < 0.92 else "suspend" if r < 0.97 else "refer"
        yield record_id, inst.id, inst.township, campaign_id, day, outcome, rng.random() < 0.03


def order_rows(inspections: Iterable[tuple], seed: int) -> Iterator[tuple]:
    """One order per inspection that did not pass, issued that day."""
    rng = _rng(seed, "orders")
    order_id = 0
    for _record, institution_id, township, _campaign, day, outcome, _ad in inspections:
        if outcome == "pass":
            continue
        order_id += 1
        closed = escalated = None
        r = rng.random()
        if r < 0.85:
            closed = day + timedelta(days=rng.randint(10, 60))
        elif r < 0.9:
            escalated = day + timedelta(days=rng.randint(15, 90))
        yield (order_id, institution_id, township, outcome, day,
               closed if closed and closed <= END else None, escalated if escalated and escalated <= END else None)


def complaint_rows(province: Province, n: int, seed: int) -> Iterator[tuple]:
    rng = _rng(seed, "complaints")
    for complaint_id in range(1, n + 1):
        received = _day_between(rng, BASELINE + timedelta(days=7), END)
        verified = received + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.6 else None
        overdue = received + timedelta(days=rng.randint(10, 20)) if rng.random() < 0.1 else None
        closed = received + timedelta(days=rng.randint(5, 40)) if rng.random() < 0.8 else None
        yield (complaint_id, province.townships[rng.randrange(len(province.townships))],
               "public" if rng.random() < 0.7 else "hlw_edu_supervision", received,
               *(d if d and d <= END else None for d in (verified, overdue, closed)))


def schools(province: Province, n: int, seed: int) -> list[tuple[int, str, date]]:
    rng = _rng(seed, "schools")
    return [(i, province.townships[rng.randrange(len(province.townships))],
             _day_between(rng, date(2000, 1, 1), date(2021, 6, 30)) if rng.random() < 0.95
             else _day_between(rng, date(2021, 7, 1), END)) for i in range(1, n + 1)]


def school_visit_rows(schls: list[tuple[int, str, date]], seed: int, per_school: int = 8) -> Iterator[tuple]:
    rng = _rng(seed, "visits")
    visit_id = 0
    for school_id, township, registered_on in schls:
        lo = max(registered_on, ESCROW_START)
        for _ in range(rng.randint(per_school // 2, per_school * 3 // 2)):
            visit_id += 1
            yield visit_id, school_id, township, _day_between(rng, lo, END)


def homework_rows(schls: list[tuple[int, str, date]], seed: int) -> Iterator[tuple]:
    rng = _rng(seed, "homework")
    row_id = 0
    for school_id, township, registered_on in schls:
        lo = max(registered_on, ESCROW_START) + timedelta(days=7)
        for grade in rng.sample(range(1, 10), 3):
            class_name = f"{grade}年级{rng.randint(1, 8)}班"
            for _ in range(4):
                checked = _day_between(rng, lo, END)
                row_id += 1
                yield row_id, school_id, township, class_name, checked, checked - timedelta(days=1), rng.random() < 0.08


def after_school_rows(schls: list[tuple[int, str, date]], seed: int) -> Iterator[tuple]:
    rng = _rng(seed, "after_school")
    for school_id, township, registered_on in schls:
        for year in range(2021, END.year + 1):
            deadline = date(year, 8, 25)
            if registered_on > deadline or deadline > END or rng.random() < 0.08:
                continue  # not yet a school, not yet due, or never filed
            filed = (_day_between(rng, date(year, 7, 1), deadline) if rng.random() < 0.85
                     else _day_between(rng, deadline + timedelta(days=1), date(year, 10, 31)))
            enrolled = rng.randint(200, 2500)
            yield school_id, year, township, min(filed, END), deadline, rng.randint(enrolled // 2, enrolled), enrolled


@dataclass(frozen=True)
class Account:
    id: int
    institution_id: int
    township: str
    opened_on: date
    closed_on: date | None


def accounts(insts: list[Institution], seed: int) -> list[Account]:
    rng = _rng(seed, "accounts")
    out = []
    for inst in insts:
        if rng.random() >= 0.75:
            continue
        opened = max(inst.registered_on, ESCROW_START) + timedelta(days=rng.randint(0, 60))
        closed = inst.deregistered_on
        if opened > END or (closed and closed <= opened):
            continue
        out.append(Account(len(out) + 1, inst.id, inst.township, opened, closed))
    return out


def account_rows(accts: list[Account]) -> Iterator[tuple]:
    for a in accts:
        yield a.id, a.institution_id, a.township, a.opened_on, a.closed_on


def alert_rows(accts: list[Account], seed: int) -> Iterator[tuple]:
    rng = _rng(seed, "alerts")
    for alert_id in range(1, len(accts) // 3 + 1):
        a = accts[rng.randrange(len(accts))]
        raised = _day_between(rng, a.opened_on, a.closed_on or END)
        closed = raised + timedelta(days=rng.randint(1, 30)) if rng.random() < 0.7 else None
        yield (alert_id, a.institution_id, a.township, ALERT_KINDS[rng.randrange(len(ALERT_KINDS))], raised,
               closed if closed and closed <= END else None)


def balance_rows(accts: list[Account], transactions: int, seed: int) -> Iterator[tuple]:
    """`transactions` bank transactions (60 % receipts, 30 % releases, 10 % refunds, never below a
    zero balance) spread over the accounts by open days; yields each institution's balance at the
    end of every day it had one, as the feed books it."""
    if not accts or transactions <= 0:
        return
    rng = _rng(seed, "transactions")
    spans = [((a.closed_on or END) - a.opened_on).days + 1 for a in accts]
    total_days = sum(spans)
    shares = [transactions * s // total_days for s in spans]
    for k in range(transactions - sum(shares)):  # the remainder, one each to the first accounts
        shares[k % len(shares)] += 1
    random_ = rng.random  # random() scaled, not randrange(): a third of the time for 2M draws
    days: dict[int, tuple[date, str]] = {}  # ordinal → (day, booked_at), shared by all accounts
    for a, span, k in zip(accts, spans, shares):
        if k == 0:
            continue
        base = a.opened_on.toordinal()
        offsets = sorted(int(random_() * span) for _ in range(k))
        balance, current = 0, offsets[0]
        for offset in offsets + [None]:  # None closes the last day
            if offset != current:
                day = days.get(base + current) or days.setdefault(base + current, _day_and_booking(base + current))
                yield a.institution_id, day[0], a.township, balance, day[1]
                if offset is None:
                    break
                current = offset
            r = random_()
            if r < 0.6:
                balance += 10_000 + int(random_() * 2_000_000)  # 100 to 20,100 yuan
            elif r < 0.9:
                balance -= balance * int(1 + random_() * 39) // 100  # a release of confirmed lessons
            else:
                balance -= min(balance, 5_000 + int(random_() * 300_000))


def _day_and_booking(ordinal: int) -> tuple[date, str]:
    day = date.fromordinal(ordinal)
    return day, day.isoformat() + " 09:00:00+00"  # the feed's last booking of the day, 17:00 Beijing time


def row_sources(province: Province, sizes: Sizes, seed: int) -> dict[str, Callable[[], Iterator[tuple]]]:
    """Every table's rows, lazily: the big ones are streamed straight into COPY."""
    insts = institutions(province, sizes.institutions, seed)
    camps = campaigns(province, max(1, sizes.inspections // 200), seed)
    schls = schools(province, sizes.schools, seed)
    accts = accounts(insts, seed)
    return {
        "county_report_settings": lambda: county_settings_rows(province),
        "institution_facts": lambda: institution_rows(insts),
        "institution_status_facts": lambda: status_rows(insts),
        "institution_attribute_facts": lambda: attribute_rows(insts),
        "campaign_facts": lambda: campaign_rows(camps, insts, seed),
        "inspection_facts": lambda: inspection_rows(insts, camps, sizes.inspections, seed),
        "order_facts": lambda: order_rows(inspection_rows(insts, camps, sizes.inspections, seed), seed),
        "complaint_facts": lambda: complaint_rows(province, max(1, sizes.institutions // 2), seed),
        "school_facts": lambda: iter(schls),
        "school_visit_facts": lambda: school_visit_rows(schls, seed),
        "homework_check_facts": lambda: homework_rows(schls, seed),
        "after_school_plan_facts": lambda: after_school_rows(schls, seed),
        "escrow_account_facts": lambda: account_rows(accts),
        "escrow_alert_facts": lambda: alert_rows(accts, seed),
        "escrow_balance_facts": lambda: balance_rows(accts, sizes.transactions, seed),
    }
