"""The synthetic province's row generators (services/reporting/synthetic/rows.py), on small sizes."""
from __future__ import annotations

from collections import Counter
from datetime import date

from services.registry.domain import ALLOWED_TRANSITIONS, Status
from services.reporting.domain import STATUS_NAMES
from services.reporting.synthetic import rows as g

SIZES = g.Sizes(institutions=300, schools=100, transactions=5000, inspections=500)


def rows(seed: int = 7) -> dict[str, list[tuple]]:
    sources = g.row_sources(g.make_province("34"), SIZES, seed)
    return {table: list(make()) for table, make in sources.items()}


def column(table: str, name: str, data: dict) -> list:
    index = g.TABLES[table].index(name)
    return [row[index] for row in data[table]]


def test_same_seed_same_rows_other_seed_other_rows():
    first, again, other = rows(7), rows(7), rows(8)
    assert first == again
    assert first["institution_facts"] != other["institution_facts"]
    assert first["escrow_balance_facts"] != other["escrow_balance_facts"]


def test_every_row_has_its_tables_columns():
    for table, table_rows in rows().items():
        assert table_rows, table
        assert {len(r) for r in table_rows} == {len(g.TABLES[table])}, table


def test_province_layout_and_prefix_rule():
    province = g.make_province("34")
    assert len(province.cities) == 16 and len(province.counties) == 96 and len(province.townships) == 1440
    assert all(len(c) == 4 and c.startswith("34") for c in province.cities)
    assert all(len(c) == 6 and c[:4] in province.cities and not c.endswith("00") for c in province.counties)
    counties = set(province.counties)
    assert all(len(t) == 9 and t[:6] in counties for t in province.townships)


def test_counts_as_asked():
    data = rows()
    assert len(data["institution_facts"]) == SIZES.institutions
    assert len(data["school_facts"]) == SIZES.schools
    assert len(data["inspection_facts"]) == SIZES.inspections
    assert len(data["county_report_settings"]) == 96
    assert len(data["order_facts"]) == sum(1 for o in column("inspection_facts", "outcome", data) if o != "pass")


def test_transactions_become_daily_balances_in_fen():
    accounts = g.accounts(g.institutions(g.make_province(), SIZES.institutions, 7), 7)
    balances = list(g.balance_rows(accounts, SIZES.transactions, 7))
    days = [(r[0], r[1]) for r in balances]
    assert len(days) == len(set(days))  # one balance per institution and day
    assert 0 < len(balances) <= SIZES.transactions
    assert all(isinstance(r[3], int) and r[3] >= 0 for r in balances)
    opened = {a.institution_id: a.opened_on for a in accounts}
    assert all(opened[r[0]] <= r[1] <= g.END for r in balances)


def test_codes_and_values_are_the_read_models():
    data = rows()
    townships = set(g.make_province().townships)
    for table in ("institution_facts", "inspection_facts", "school_facts", "escrow_balance_facts", "complaint_facts"):
        assert set(column(table, "division_code", data)) <= townships, table
    assert set(column("institution_status_facts", "status", data)) <= set(STATUS_NAMES)
    assert set(column("institution_facts", "category", data)) == {"academic", "non_academic"}
    attributes = data["institution_attribute_facts"]
    assert {a[2] for a in attributes} == {"category", *g.PLATFORM_FLAGS}
    for _id, _inst, attribute, value, _day, _version in attributes:
        assert value in (("academic", "non_academic") if attribute == "category" else ("true", "false"))
    assert set(column("county_report_settings", "baseline_date", data)) == {date(2021, 7, 24)}


def test_histories_are_dated_and_ordered():
    insts = g.institutions(g.make_province(), SIZES.institutions, 7)
    academic = sum(1 for i in insts if i.category == "academic") / len(insts)
    assert 0.5 < academic < 0.7
    assert any(i.registered_on >= g.BASELINE for i in insts) and any(i.registered_on < g.BASELINE for i in insts)
    for inst in insts:
        assert inst.statuses[0] == ("operating", inst.registered_on)
        days = [d for _s, d in inst.statuses]
        assert days == sorted(days) and days[-1] <= g.END
        assert all(d > g.BASELINE for d in days[1:])  # every change came with the policy
        for before, after in zip(inst.statuses, inst.statuses[1:]):  # the registry's own transition table
            assert Status(after[0]) in ALLOWED_TRANSITIONS[Status(before[0])], (before, after)
        versions = Counter((a, v) for a, _value, _d, v in inst.attributes)
        assert max(versions.values()) == 1  # (institution, attribute, version) is unique
        for attribute in {a for a, *_ in inst.attributes}:
            mine = sorted((v, d) for a, _value, d, v in inst.attributes if a == attribute)
            assert [d for _v, d in mine] == sorted(d for _v, d in mine)  # a later version is never earlier
    status_rows = list(g.status_rows(insts))
    seqs: dict[int, list[int]] = {}
    for _id, institution_id, _status, _day, seq in status_rows:
        seqs.setdefault(institution_id, []).append(seq)
    assert all(s == list(range(len(s))) for s in seqs.values())
    assert Counter(r[2] for r in status_rows)["deregistered"] > 0
