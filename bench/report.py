"""The half-monthly report over a province: `python -m bench.report`, eventlet-patched (the RPC client
is nameko's, as in bench.bus).

* a fresh PostgreSQL database of its own, filled by `shuangjian dev generate` (the user's command, as
  a subprocess) at the default province sizes (20,000 institutions, 8,000 schools, 2,000,000 bank
  transactions, 200,000 inspections; --quick: a tenth) — its wall time is a figure;
* measured: `reporting.get_report(actor, "half_monthly", "340000", "2026-11-15")` over RPC against a
  real reporting process (`nameko run`, started here, pointed at that database), as the platform
  answers it; baseline: REPORT_SQL below, one hand-written statement computing the same figures,
  on one psycopg2 connection. Each REPEATS times after a warm-up, median.

Both answers must agree on every compared figure, or the benchmark fails. Reads
SHUANGJIAN_AMQP_URI / SHUANGJIAN_VAR_DIR (bench.run sets them) and the PostgreSQL admin URL of
shuangjian.infra.
"""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import date  # noqa: E402
from decimal import ROUND_HALF_UP, Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from services.common.config import amqp_uri, load_secrets, project_root  # noqa: E402
from services.common.identity import Actor, ActorSigner, DepartmentKind  # noqa: E402
from services.reporting.domain import STATUS_NAMES  # noqa: E402
from services.reporting.synthetic.rows import BASELINE  # noqa: E402
from shuangjian.infra import ensure_postgres, postgres_databases  # noqa: E402

from .feed import start, stop  # noqa: E402
from .result import Figure, Results, parse_parts, progress  # noqa: E402

PARTS = ("report",)
SIZES = {  # (full, --quick)
    "institutions": (20_000, 2_000),
    "schools": (8_000, 800),
    "transactions": (2_000_000, 200_000),
    "inspections": (200_000, 20_000),
    "repeats": (5, 3),
}
PROVINCE, DIVISION, AS_OF = "34", "340000", date(2026, 11, 15)
ACTOR = Actor(user_id=1, username="bench_province", display_name="压测省厅", department_id=1,
              department_kind=DepartmentKind.education, department_name="安徽省教育厅", division_code=DIVISION,
              roles=("leader",))

# The same figures as services.reporting.report.build_report, written independently: DISTINCT ON
# for "the entry in force on a day" instead of window functions, the latest balances by index probes
# (2M balance rows are never sorted), every section one CTE, one row out.
REPORT_SQL = """
WITH RECURSIVE inst AS (
    SELECT f.institution_id, f.category AS record_category, f.registered_on,
           COALESCE(s.baseline_date, %(default_baseline)s) AS baseline_date
    FROM institution_facts f
    LEFT JOIN county_report_settings s ON s.county_code = substr(f.division_code, 1, 6)
    WHERE f.division_code LIKE %(prefix)s AND f.registered_on <= %(day)s
), status AS (
    SELECT DISTINCT ON (institution_id) institution_id, status
    FROM institution_status_facts WHERE effective_on <= %(day)s
    ORDER BY institution_id, seq DESC
), attribute AS (
    SELECT DISTINCT ON (institution_id, attribute) institution_id, attribute, value
    FROM institution_attribute_facts WHERE effective_on <= %(day)s
    ORDER BY institution_id, attribute, version DESC
), category_at_baseline AS (
    SELECT DISTINCT ON (a.institution_id) a.institution_id, a.value
    FROM institution_attribute_facts a JOIN inst i ON i.institution_id = a.institution_id
    WHERE a.attribute = 'category' AND a.effective_on <= i.baseline_date
    ORDER BY a.institution_id, a.version DESC
), classified AS (
    SELECT st.status,
           COALESCE(cat.value, i.record_category) = 'academic' AS academic,
           i.registered_on <= i.baseline_date AND COALESCE(cb.value, i.record_category) = 'academic' AS in_baseline,
           COALESCE(basic.value = 'true', false) AS basic_info, COALESCE(staff.value = 'true', false) AS staff,
           COALESCE(fund.value = 'true', false) AS fund
    FROM inst i
    JOIN status st ON st.institution_id = i.institution_id
    LEFT JOIN attribute cat ON cat.institution_id = i.institution_id AND cat.attribute = 'category'
    LEFT JOIN attribute basic ON basic.institution_id = i.institution_id AND basic.attribute = 'platform_basic_info'
    LEFT JOIN attribute staff ON staff.institution_id = i.institution_id AND staff.attribute = 'platform_staff'
    LEFT JOIN attribute fund ON fund.institution_id = i.institution_id AND fund.attribute = 'platform_fund_supervision'
    LEFT JOIN category_at_baseline cb ON cb.institution_id = i.institution_id
), institutions AS (
    SELECT count(*) AS total, count(*) FILTER (WHERE academic) AS academic,
           count(*) FILTER (WHERE status = 'operating') AS operating,
           count(*) FILTER (WHERE status = 'paused') AS paused,
           count(*) FILTER (WHERE status = 'suspended_for_rectification') AS suspended,
           count(*) FILTER (WHERE status = 'deregistering') AS deregistering,
           count(*) FILTER (WHERE status = 'deregistered') AS deregistered,
           count(*) FILTER (WHERE in_baseline) AS baseline,
           count(*) FILTER (WHERE in_baseline AND academic AND status = 'operating') AS academic_operating,
           count(*) FILTER (WHERE basic_info) AS basic_info, count(*) FILTER (WHERE staff) AS staff,
           count(*) FILTER (WHERE fund) AS fund, count(*) FILTER (WHERE basic_info AND staff AND fund) AS complete
    FROM classified
), inspections AS (
    SELECT count(*) AS records, count(*) FILTER (WHERE illegal_ad) AS illegal_ads,
           count(DISTINCT institution_id) AS institutions
    FROM inspection_facts WHERE division_code LIKE %(prefix)s AND inspected_on BETWEEN %(start)s AND %(day)s
), orders AS (
    SELECT count(*) FILTER (WHERE issued_on >= %(start)s) AS issued,
           count(*) FILTER (WHERE (closed_on IS NULL OR closed_on > %(day)s)
                              AND (escalated_on IS NULL OR escalated_on > %(day)s)) AS open,
           count(*) FILTER (WHERE closed_on BETWEEN %(start)s AND %(day)s) AS closed
    FROM order_facts WHERE division_code LIKE %(prefix)s AND issued_on <= %(day)s
), complaints AS (
    SELECT count(*) FILTER (WHERE received_on >= %(start)s) AS received, count(*) AS to_date
    FROM complaint_facts WHERE division_code LIKE %(prefix)s AND received_on <= %(day)s
), accounts AS (
    SELECT count(*) AS open FROM escrow_account_facts
    WHERE division_code LIKE %(prefix)s AND opened_on <= %(day)s AND (closed_on IS NULL OR closed_on > %(day)s)
), balance_holders AS (  -- distinct institutions by skipping along the primary key, not reading every day
    (SELECT institution_id FROM escrow_balance_facts ORDER BY institution_id LIMIT 1)
    UNION ALL
    SELECT (SELECT b.institution_id FROM escrow_balance_facts b WHERE b.institution_id > h.institution_id
            ORDER BY b.institution_id LIMIT 1)
    FROM balance_holders h WHERE h.institution_id IS NOT NULL
), funds AS (  -- each one's latest booked balance by the day: one index probe each
    SELECT COALESCE(sum(latest.balance_fen), 0) AS fen FROM balance_holders h
    CROSS JOIN LATERAL (
        SELECT b.balance_fen FROM escrow_balance_facts b
        WHERE b.institution_id = h.institution_id AND b.day <= %(day)s AND b.division_code LIKE %(prefix)s
        ORDER BY b.day DESC LIMIT 1) latest
), alerts AS (
    SELECT count(*) AS open FROM escrow_alert_facts
    WHERE division_code LIKE %(prefix)s AND raised_on <= %(day)s AND (closed_on IS NULL OR closed_on > %(day)s)
), schools AS (
    SELECT count(*) AS total FROM school_facts WHERE division_code LIKE %(prefix)s AND registered_on <= %(day)s
), visited AS (
    SELECT count(DISTINCT v.school_id) AS schools FROM school_visit_facts v
    JOIN school_facts s ON s.school_id = v.school_id AND s.registered_on <= %(day)s
    WHERE v.division_code LIKE %(prefix)s AND v.visited_on BETWEEN %(month_start)s AND %(day)s
), homework AS (
    SELECT count(*) AS checked, count(*) FILTER (WHERE NOT flagged_any) AS compliant FROM (
        SELECT school_id, bool_or(flagged) AS flagged_any FROM (
            SELECT DISTINCT ON (school_id, class_name) school_id, flagged FROM homework_check_facts
            WHERE division_code LIKE %(prefix)s AND checked_on <= %(day)s
            ORDER BY school_id, class_name, checked_on DESC, period_to DESC, id DESC) latest
        GROUP BY school_id) per_school
), plans AS (
    SELECT count(*) AS filed, COALESCE(sum(participating), 0) AS participating,
           COALESCE(sum(enrolled), 0) AS enrolled
    FROM after_school_plan_facts
    WHERE division_code LIKE %(prefix)s AND school_year = %(school_year)s AND filed_on <= %(day)s
)
SELECT institutions.*,
       CASE WHEN institutions.baseline > 0 THEN round((institutions.baseline - institutions.academic_operating)
            ::numeric / institutions.baseline, 4) END AS reduction_rate,
       inspections.records, inspections.illegal_ads, inspections.institutions AS inspected,
       orders.issued, orders.open, orders.closed, complaints.received, complaints.to_date,
       accounts.open AS accounts_open, funds.fen, alerts.open AS alerts_open,
       schools.total AS schools, visited.schools AS visited, homework.checked, homework.compliant,
       plans.filed, plans.participating, plans.enrolled
FROM institutions, inspections, orders, complaints, accounts, funds, alerts, schools, visited, homework, plans
"""


def sql_figures(cur) -> dict:
    """REPORT_SQL's row in the report's shape (only the figures compared)."""
    start = AS_OF.replace(day=1 if AS_OF.day <= 15 else 16)  # the half month the day is in
    school_year = AS_OF.year if AS_OF.month >= 7 else AS_OF.year - 1
    cur.execute(REPORT_SQL, {"prefix": PROVINCE + "%", "day": AS_OF, "start": start,
                             "month_start": AS_OF.replace(day=1), "school_year": school_year,
                             "default_baseline": BASELINE})
    r = dict(zip([c.name for c in cur.description], cur.fetchone()))
    names = STATUS_NAMES
    rate = r["reduction_rate"]
    return {
        "institutions_total": r["total"], "institutions_academic": r["academic"],
        "status_counts": {names["operating"]: r["operating"], names["paused"]: r["paused"],
                          names["suspended_for_rectification"]: r["suspended"],
                          names["deregistering"]: r["deregistering"], names["deregistered"]: r["deregistered"]},
        "academic_baseline": r["baseline"], "academic_operating": r["academic_operating"],
        "reduction_rate": None if rate is None else float(Decimal(rate).quantize(Decimal("0.0001"), ROUND_HALF_UP)),
        "platform_registration": {"basic_info": r["basic_info"], "staff": r["staff"],
                                  "fund_supervision": r["fund"], "complete": r["complete"]},
        "inspections.records": r["records"], "inspections.institutions_inspected": r["inspected"],
        "illegal_ads_handled": r["illegal_ads"],
        "orders.issued": r["issued"], "orders.open": r["open"], "orders.closed": r["closed"],
        "complaints.received": r["received"], "complaints.received_to_date": r["to_date"],
        "escrow.accounts_open": r["accounts_open"], "escrow.funds_under_supervision_fen": int(r["fen"]),
        "escrow.alerts_open": r["alerts_open"],
        "schools.total": r["schools"], "schools.visited_this_month": r["visited"],
        "schools.homework_checked": r["checked"], "schools.homework_compliant": r["compliant"],
        "schools.after_school.plans_filed": r["filed"],
        "schools.after_school.participating": int(r["participating"]),
        "schools.after_school.enrolled": int(r["enrolled"]),
    }


def report_figures(report: dict, keys) -> dict:
    """The platform's answer, flattened to REPORT_SQL's keys ("a.b" reads report["a"]["b"]; orders by
    kind are summed over the kinds)."""
    out = {}
    for key in keys:
        value = report
        for part in key.split("."):
            value = value[part]
        out[key] = sum(value.values()) if key in ("orders.issued", "orders.open") else value
    return out


def compare(platform: dict, sql: dict) -> None:
    wrong = [f"{k}: report {platform[k]!r} ≠ SQL {sql[k]!r}" for k in sql if platform[k] != sql[k]]
    if wrong:
        raise RuntimeError("the report and the SQL disagree:\n  " + "\n  ".join(wrong))


def generate(url: str, size: dict, logs: Path) -> Figure:
    argv = [sys.executable, "-m", "shuangjian.cli", "dev", "generate", "--db-url", url, "--province", PROVINCE,
            "--seed", "1", *(f"--{k}={size[k]}" for k in ("institutions", "schools", "transactions", "inspections"))]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=project_root(), capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    (logs / "generate.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"shuangjian dev generate exit {done.returncode}: {done.stdout[-800:]} {done.stderr[-800:]}")
    rows = int(done.stdout.rsplit("完成：", 1)[1].split(" 行", 1)[0].replace(",", ""))
    figure = Figure(f"shuangjian dev generate ({size['institutions']:,} institutions, "
                    f"{size['transactions']:,} transactions)", seconds, "s", rows, seconds,
                    note=f"{rows:,} rows into reporting's fact tables, migrations included; wall clock")
    progress(f"{figure.name}: {seconds:.1f}s")
    return figure


def wait_for_service(proc, service: str = "reporting", seconds: float = 90) -> None:
    """Until the service's RPC queue exists (nameko declares it once migrations are applied)."""
    from amqp.exceptions import NotFound
    from kombu import Connection

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{service} exited with {proc.returncode}")
        with Connection(amqp_uri()) as conn:
            try:
                conn.channel().queue_declare(f"rpc-{service}", passive=True)
                return
            except NotFound:
                pass
        eventlet.sleep(0.3)
    raise RuntimeError(f"{service} did not come up")


def timed(call, repeats: int) -> tuple[float, list[float], object]:
    times, answer = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, answer


def main(argv: list[str] | None = None) -> None:
    import psycopg2

    from services.reporting.synthetic.load import psycopg2_dsn

    _parts, size = parse_parts("python -m bench.report", PARTS, SIZES, argv)
    results = Results("report")
    admin = ensure_postgres()
    if admin is None:
        results.notes.append("report: skipped (needs PostgreSQL)")
        results.emit()
        return
    logs = Path(tempfile.mkdtemp(prefix="sj-bench-report-"))
    database = postgres_databases(admin, f"bench_report_{uuid.uuid4().hex[:8]}", ["reporting"])
    url = database.template.format(service="reporting")
    proc = None
    try:
        results.add(generate(url, size, logs))
        env = dict(os.environ, SHUANGJIAN_DB_URL_REPORTING=url, PYTHONUNBUFFERED="1")
        nameko = str(Path(sys.executable).parent / "nameko")
        proc = start([nameko, "run", "services.reporting.service", "--config",
                      str(project_root() / "deploy" / "nameko.yaml")], env, logs / "reporting.log")
        token = ActorSigner(load_secrets().actor_signing_key).sign(ACTOR)
        conn = psycopg2.connect(psycopg2_dsn(url))
        conn.autocommit = True
        repeats = size["repeats"]
        with ClusterRpcProxy({"AMQP_URI": amqp_uri()}, timeout=120) as rpc, conn.cursor() as cur:
            wait_for_service(proc)
            rpc.reporting.get_report(token, "half_monthly", DIVISION, AS_OF.isoformat())  # warm-up, both
            sql_figures(cur)
            sql_name = "hand-written SQL, same figures (one statement)"
            # interleaved halves, so that a change in the machine's load hits both alike
            first, second = repeats // 2 + 1, repeats - repeats // 2
            _, sql_a, sql = timed(lambda: sql_figures(cur), first)
            _, rpc_times, report = timed(
                lambda: rpc.reporting.get_report(token, "half_monthly", DIVISION, AS_OF.isoformat()), repeats)
            _, sql_b, _ = timed(lambda: sql_figures(cur), second)
        conn.close()
        compare(report_figures(report, sql), sql)
        sql_times = sql_a + sql_b
        report_median, sql_median = statistics.median(rpc_times), statistics.median(sql_times)
        results.add(Figure(sql_name, sql_median, "s", len(sql_times), sum(sql_times),
                           note=f"median of {len(sql_times)}, one psycopg2 connection"))
        results.add(Figure(f"reporting.get_report half_monthly, province {DIVISION}, RPC", report_median, "s",
                           len(rpc_times), sum(rpc_times), sql_name,
                           note=f"median of {len(rpc_times)}; `nameko run` reporting process; as of {AS_OF}"))
        ratio = report_median / sql_median
        progress(f"report median {report_median:.3f}s, SQL median {sql_median:.3f}s, ratio {ratio:.2f}")
        results.notes.append(f"report: median {report_median:.3f}s (target < 2 s), SQL {sql_median:.3f}s, ratio "
                             f"{ratio:.2f} (target < 1.5); {len(sql)} figures agree; "
                             f"institutions {report['institutions_total']:,}, 压减率 {report['reduction_rate']}")
    except Exception:
        progress(f"failed; the generator's and reporting's output: {logs}")
        raise
    else:
        shutil.rmtree(logs, ignore_errors=True)
    finally:
        if proc is not None:
            stop(proc)
        database.drop()
    results.emit()


if __name__ == "__main__":
    main()
