"""`shuangjian dev generate` into this run's reporting database (PostgreSQL under `make test`)."""
from __future__ import annotations

from sqlalchemy import text

from services.common.config import database_url
from services.common.db import make_engine
from services.reporting.synthetic import load as synthetic, rows
from shuangjian.cli import main as cli

SMALL = ["--institutions", "300", "--schools", "100", "--transactions", "5000", "--inspections", "500"]


def table_counts() -> dict[str, int]:
    engine = make_engine(database_url("reporting"))
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in rows.TABLES}
    finally:
        engine.dispose()


def test_generates_a_small_province_and_refuses_to_load_twice(capfd):
    assert cli(["dev", "generate", *SMALL, "--seed", "5"]) == 0
    counts = table_counts()
    assert counts["institution_facts"] == 300
    assert counts["school_facts"] == 100
    assert counts["inspection_facts"] == 500
    assert counts["county_report_settings"] == 96
    assert 0 < counts["escrow_balance_facts"] <= 5000
    assert all(counts.values()), counts
    expected = rows.row_sources(rows.make_province("34"), rows.Sizes(300, 100, 5000, 500), 5)
    assert counts == {table: sum(1 for _ in make()) for table, make in expected.items()}
    capfd.readouterr()

    assert cli(["dev", "generate", *SMALL, "--seed", "5"]) == 1
    assert "--replace" in capfd.readouterr().out
    assert table_counts() == counts  # nothing added, nothing removed

    assert cli(["dev", "generate", *SMALL, "--seed", "6", "--replace"]) == 0
    assert table_counts()["institution_facts"] == 300


def test_townships_sit_in_their_counties_and_ids_continue_after_the_load():
    counts = synthetic.load(database_url("reporting"), rows.Sizes(50, 10, 500, 50), seed=2)
    assert counts["institution_facts"] == 50
    engine = make_engine(database_url("reporting"))
    try:
        with engine.begin() as conn:
            outside = conn.execute(text(
                "SELECT count(*) FROM institution_facts f WHERE NOT EXISTS (SELECT 1 FROM county_report_settings s"
                " WHERE s.county_code = substr(f.division_code, 1, 6))")).scalar_one()
            assert outside == 0
            # the service's own inserts after a load must not collide with the loaded ids
            conn.execute(text("INSERT INTO institution_status_facts (institution_id, status, effective_on, seq)"
                              " VALUES (1, 'paused', '2026-11-16', 99)"))
    finally:
        engine.dispose()
