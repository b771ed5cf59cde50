"""Fault injection under load, judged only by what can be observed from outside.

A platform (tests/e2e/support.run_platform: its own vhost, var dir, databases) gets steady load
from a few threads — registrations over the API, bank-feed batches over AMQP, LicenceVerification
decisions over the API, public complaints — while processes are SIGKILLed and restarted the way
`make up` starts them (`shuangjian dev up` starts what is not running), RabbitMQ is restarted and
the Temporal dev server is restarted. Then the load stops, the platform is given a bounded time to
settle, and every kind of message is reconciled by counting rows in the services' databases and
asking Temporal: sent, applied, lost, duplicated.

Nothing here knows about outboxes, dead-letter queues or metrics: when those land, the same counts
simply come out better.
"""
from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import requests
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.pool import NullPool

from services.common.bank_feed_wire import encode_batch, publish_batches
from services.common.workdays import SHANGHAI
from shuangjian.client import ApiError
from shuangjian.codes import make_uscc
from shuangjian.demo import TOWNSHIPS, load_demo_county
from tests.e2e.support import admin_client, as_user, cli, running
from tests.e2e.test_bad_input import open_account

from .imports import ROWS_PER_IMPORT, import_ledger_rows, ledger_rows

SERVICES = ("registry", "escrow", "inspection", "reporting", "gateway", "escrow_feed")
BANK = "CHAOS"
TOWNSHIP = "340722100"
HTTP_TIMEOUT = 20


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def platform_env_defaults() -> None:
    """Before run_platform copies os.environ: public complaints are part of the load, so the
    per-client submission limit (5 per 10 minutes) must not throttle the load generator."""
    os.environ["SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT"] = "1000000"


def db_url(platform, service: str) -> str:
    template = platform["env"].get("SHUANGJIAN_DB_URL_TEMPLATE")
    return template.format(service=service) if template else f"sqlite:///{platform['var'] / f'{service}.db'}"


# -- faults ----------------------------------------------------------------------------------------


def pid_of(platform, name: str) -> int | None:
    try:
        return int((platform["var"] / "run" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def wait_dead(pid: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def restart_missing(platform) -> float:
    """`shuangjian dev up`: starts every process whose pid is not running (as `make up` did), waits
    until /health is ok. Returns the seconds it took."""
    t0 = time.monotonic()
    for attempt in range(4):  # a process may exit on start when the shared machine's PostgreSQL is full
        up = cli(platform["env"], "dev", "up", timeout=300)
        if up.returncode == 0:
            return time.monotonic() - t0
        say(f"  dev up failed (attempt {attempt + 1}): {(up.stdout + up.stderr).strip()[-300:]}")
        time.sleep(5 * (attempt + 1))
    raise RuntimeError(f"dev up after a fault failed: {up.stdout[-2000:]} {up.stderr[-2000:]}")


def kill_process(platform, name: str) -> str:
    pid = pid_of(platform, name)
    if not pid or not running(pid):
        raise RuntimeError(f"{name} is not running before its fault")
    os.killpg(pid, signal.SIGKILL)
    wait_dead(pid)
    seconds = restart_missing(platform)
    return f"SIGKILL pid {pid}, restarted + healthy in {seconds:.0f}s"


def restart_temporal(platform) -> str:
    pid = pid_of(platform, "temporal")
    os.killpg(pid, signal.SIGKILL)
    wait_dead(pid)
    time.sleep(1)
    seconds = restart_missing(platform)
    return f"SIGKILL dev server pid {pid} (state kept in its db file), restarted + healthy in {seconds:.0f}s"


def broker_restart_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("rabbitmqctl") is not None


def restart_rabbitmq(platform) -> str:
    t0 = time.monotonic()
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], capture_output=True, timeout=120)
    time.sleep(2)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], capture_output=True, timeout=120)
    down_for = time.monotonic() - t0
    # the processes should reconnect by themselves; give them a while before calling that a failure
    dead = []
    deadline = time.monotonic() + 90
    healthy = False
    while time.monotonic() < deadline:
        dead = [n for n in (*SERVICES, "worker") if not running(pid_of(platform, n) or 0)]
        if dead:
            break
        try:
            if requests.get(platform["url"] + "/health", timeout=10).json().get("status") == "ok":
                healthy = True
                break
        except (requests.RequestException, ValueError):
            pass
        time.sleep(1)
    note = f"broker stopped {down_for:.0f}s; "
    if healthy:
        return note + f"every process reconnected, healthy after {time.monotonic() - t0:.0f}s"
    seconds = restart_missing(platform)
    return note + (f"processes exited: {', '.join(dead)}; " if dead else "not healthy in 90s; ") + \
        f"dev up restarted them in {seconds:.0f}s"


# -- load --------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the load generators sent and what the platform acknowledged."""

    run: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    registrations: dict = field(default_factory=dict)  # uscc -> "acked" | "ambiguous"
    institution_ids: dict = field(default_factory=dict)  # uscc -> id (from the API answer)
    decisions: dict = field(default_factory=dict)  # institution id -> "acked" | "pending"
    transactions: dict = field(default_factory=dict)  # bank_tx_id -> (account_no, amount)
    batches_sent: int = 0
    complaints: dict = field(default_factory=dict)  # marker -> "acked" | "ambiguous"
    imported: dict = field(default_factory=dict)  # uscc -> "committed" | "ambiguous" (ledger imports)
    errors: Counter = field(default_factory=Counter)
    accounts: list = field(default_factory=list)  # (account_no, institution_id)

    def error(self, kind: str, exc: BaseException | str) -> None:
        name = exc if isinstance(exc, str) else (
            f"HTTP {exc.status}" if isinstance(exc, ApiError) else type(exc).__name__)
        with self.lock:
            self.errors[f"{kind}: {name}"] += 1


class Load:
    def __init__(self, platform, ledger: Ledger, rate: float = 1.0):
        self.platform, self.ledger, self.rate = platform, ledger, rate
        self.stop = threading.Event()
        self.decide_stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.serial = random.randrange(10**7, 10**8) * 10
        self.serial_lock = threading.Lock()
        self.to_decide: list[tuple[float, int]] = []

    def next_serial(self) -> int:
        with self.serial_lock:
            self.serial += 1
            return self.serial

    def pause(self, seconds: float) -> None:
        self.stop.wait(seconds / self.rate)

    # setup: the county, users, and supervised accounts the bank feed books against
    def setup(self, accounts: int = 3) -> None:
        admin = admin_client(self.platform)
        load_demo_county(admin)
        self.education = as_user(self.platform, "jiaoti_leader")
        self.education.timeout = HTTP_TIMEOUT
        for n in range(accounts):
            uscc = self.register_one()
            iid = self.ledger.institution_ids[uscc]
            account_no = f"6{self.ledger.run[-6:]}{n:04d}{random.randrange(10**6):06d}"
            open_account(self.education, {
                "institution_id": iid, "mode": "custody", "bank_name": "混沌测试银行", "bank_code": BANK,
                "account_no": account_no, "custody_agreement_no": f"混沌托管〔{self.ledger.run}〕{n}号"})
            self.ledger.accounts.append((account_no, iid))

    def register_one(self) -> str | None:
        serial = self.next_serial()
        uscc = make_uscc(serial)
        body = {"name": f"混沌测试培训学校{serial}", "uscc": uscc, "licence_no": f"教民CHAOS{serial}号",
                "licence_issued_on": "2021-06-18", "category": "学科类", "legal_form": "营利性",
                "township_code": TOWNSHIP, "address": f"枞阳镇混沌路{serial % 1000}号"}
        with self.ledger.lock:
            self.ledger.registrations[uscc] = "ambiguous"
        deadline = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                made = self.education.post("/api/institutions", body)
            except ApiError as exc:
                if exc.status == 409 and attempt > 1:  # an earlier attempt was stored after all
                    with self.ledger.lock:
                        self.ledger.registrations[uscc] = "acked"
                    return uscc
                self.ledger.error("registration", exc)
                if exc.status < 500:
                    return None
            except requests.RequestException as exc:
                self.ledger.error("registration", exc)
            else:
                with self.ledger.lock:
                    self.ledger.registrations[uscc] = "acked"
                    self.ledger.institution_ids[uscc] = made["id"]
                    self.to_decide.append((time.monotonic(), made["id"]))
                    self.ledger.decisions[made["id"]] = "pending"
                return uscc
            if self.stop.is_set() and attempt > 3:
                break
            time.sleep(1)
        return None

    def registrar(self) -> None:
        while not self.stop.is_set():
            self.register_one()
            self.pause(0.4)

    def decide(self, iid: int) -> bool:
        """The education leader's decision; True once it is known to have been taken."""
        try:
            self.education.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "verified"})
            return True
        except ApiError as exc:
            if exc.status != 404:
                self.ledger.error("decision", exc)
        except requests.RequestException as exc:
            self.ledger.error("decision", exc)
        try:  # refused or no answer: was it taken after all (an earlier attempt, or this one)?
            state = self.education.get(f"/api/institutions/{iid}/verification")
            return state.get("status") == "decided"
        except (ApiError, requests.RequestException):
            return False

    def decider(self) -> None:
        while not self.decide_stop.is_set():
            with self.ledger.lock:
                ready = [x for x in self.to_decide if time.monotonic() - x[0] > 1.0]
                for x in ready:
                    self.to_decide.remove(x)
            for _, iid in ready:
                if self.decide(iid):
                    with self.ledger.lock:
                        self.ledger.decisions[iid] = "acked"
                else:
                    with self.ledger.lock:
                        self.to_decide.append((time.monotonic(), iid))
            self.decide_stop.wait(0.5)

    def banker(self) -> None:
        amqp = self.platform["env"]["SHUANGJIAN_AMQP_URI"]
        n = 0
        while not self.stop.is_set():
            n += 1
            batch_id = f"chaos-{self.ledger.run}-{n:05d}"
            txs = []
            for i in range(10):
                account_no, _ = self.ledger.accounts[(n + i) % len(self.ledger.accounts)]
                txs.append({"bank_tx_id": f"CH{self.ledger.run}-{n:05d}-{i}", "account_no": account_no,
                            "kind": "receipt", "amount_fen": random.randrange(100, 100_000),
                            "occurred_at": datetime.now(SHANGHAI).isoformat(timespec="seconds")})
            body = encode_batch({"batch_id": batch_id, "bank_code": BANK, "transactions": txs})
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:  # the same batch again until confirmed: the feed is idempotent
                try:
                    publish_batches(amqp, [body], connect_timeout=3)
                    break
                except Exception as exc:  # noqa: BLE001 — broker away: retry
                    self.ledger.error("bank batch publish", exc)
                    time.sleep(1)
            else:
                continue
            with self.ledger.lock:
                self.ledger.batches_sent += 1
                for tx in txs:
                    self.ledger.transactions[tx["bank_tx_id"]] = (tx["account_no"], tx["amount_fen"])
            self.pause(0.3)

    def importer(self) -> None:
        """A 600-row ledger now and then: its events go out as bundles (tests/chaos/imports.py)."""
        township = next(name for code, name, *_ in TOWNSHIPS if code == TOWNSHIP)
        n = 0
        while not self.stop.is_set():
            n += 1
            with self.serial_lock:
                first, self.serial = self.serial + 1, self.serial + ROWS_PER_IMPORT
            rows = ledger_rows(first, ROWS_PER_IMPORT, township)
            errors: list = []
            outcome = import_ledger_rows(self.education, f"混沌台账{self.ledger.run}-{n}.csv", rows, errors)
            for error in errors:
                self.ledger.error("ledger import", error)
            if outcome != "refused":
                with self.ledger.lock:
                    for row in rows:
                        self.ledger.imported[row["统一社会信用代码"]] = outcome
            else:
                self.ledger.error("ledger import", "refused")
            self.pause(8)

    def complainer(self) -> None:
        http = requests.Session()
        n = 0
        while not self.stop.is_set():
            n += 1
            marker = f"CHAOS{self.ledger.run}C{n:05d}"
            with self.ledger.lock:
                self.ledger.complaints[marker] = "ambiguous"
            try:
                made = http.post(self.platform["url"] + "/api/public/complaints", json={
                    "content": f"{marker} 某培训机构周末在居民楼内开设数学班", "township_code": TOWNSHIP},
                    timeout=HTTP_TIMEOUT)
                if made.status_code == 201:
                    with self.ledger.lock:
                        self.ledger.complaints[marker] = "acked"
                else:
                    self.ledger.error("complaint", f"HTTP {made.status_code}")
                    if made.status_code < 500:
                        with self.ledger.lock:
                            del self.ledger.complaints[marker]  # refused: nothing to find later
            except requests.RequestException as exc:
                self.ledger.error("complaint", exc)
            self.pause(0.6)

    def start(self) -> None:
        for target in (self.registrar, self.registrar, self.banker, self.complainer, self.importer):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self.threads.append(t)
        d = threading.Thread(target=self.decider, daemon=True)
        d.start()
        self.decider_thread = d

    def stop_load(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=240)

    def finish_decisions(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.ledger.lock:
                if all(v == "acked" for v in self.ledger.decisions.values()):
                    break
            time.sleep(0.5)
        self.decide_stop.set()
        self.decider_thread.join(timeout=60)


# -- reconciliation ----------------------------------------------------------------------------------


@dataclass
class Row:
    kind: str
    sent: int
    applied: int
    lost: int
    duplicated: int
    note: str = ""


def _query(url: str, sql: str, **params):
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url, poolclass=NullPool)
    stmt = text(sql)
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            stmt = stmt.bindparams(bindparam(name, expanding=True))
    try:
        for attempt in range(30):  # a shared PostgreSQL may be out of connections for a while
            try:
                with engine.connect() as conn:
                    return conn.execute(stmt, params).all()
            except OperationalError:
                if attempt == 29:
                    raise
                time.sleep(2)
    finally:
        engine.dispose()


def _counts(url: str, table: str, column: str, values: list) -> Counter:
    out = Counter()
    for i in range(0, len(values), 500):
        chunk = values[i:i + 500]
        for value, n in _query(url, f"SELECT {column}, count(*) FROM {table} WHERE {column} IN :v GROUP BY {column}",
                               v=chunk):
            out[value] = n
    return out


def _tally(kind: str, expected: list, found: Counter, ambiguous: list = (), note: str = "") -> Row:
    lost = sum(1 for v in expected if found[v] == 0)
    dup = sum(1 for v in (*expected, *ambiguous) if found[v] > 1)
    applied = sum(1 for v in expected if found[v] >= 1)
    if ambiguous:
        stored = sum(1 for v in ambiguous if found[v] >= 1)
        note = (note + "; " if note else "") + f"{len(ambiguous)} unanswered request(s), {stored} of them stored"
    return Row(kind, len(expected), applied, lost, dup, note)


async def _workflow_statuses(address: str, ids: list[int]) -> tuple[dict, int]:
    from temporalio.client import Client as TemporalClient
    from temporalio.service import RPCError

    from workflows.verification.contracts import WORKFLOW_NAME, workflow_id

    client = await TemporalClient.connect(address, namespace="default")
    statuses = {}
    for iid in ids:
        try:
            desc = await client.get_workflow_handle(workflow_id(iid)).describe()
            statuses[iid] = desc.status.name if desc.status else "UNKNOWN"
        except RPCError:
            statuses[iid] = "NOT_STARTED"
    runs = Counter()
    async for wf in client.list_workflows(f"WorkflowType = '{WORKFLOW_NAME}'"):
        runs[wf.id] += 1
    wanted = {workflow_id(i) for i in ids}
    extra_runs = sum(n - 1 for wid, n in runs.items() if wid in wanted and n > 1)
    return statuses, extra_runs


def reconcile(platform, ledger: Ledger) -> list[Row]:
    rows = []
    registry, reporting = db_url(platform, "registry"), db_url(platform, "reporting")
    inspection, escrow = db_url(platform, "inspection"), db_url(platform, "escrow")

    acked = [u for u, s in ledger.registrations.items() if s == "acked"]
    ambiguous = [u for u, s in ledger.registrations.items() if s != "acked"]
    found = _counts(registry, "institutions", "uscc", acked + ambiguous)
    rows.append(_tally("registrations → registry", acked, found, ambiguous))
    ids = [r[0] for r in _query(registry, "SELECT id FROM institutions WHERE uscc IN :v", v=acked + ambiguous)] \
        if acked + ambiguous else []
    rows.append(_tally("institution_registered → reporting", ids,
                       _counts(reporting, "institution_facts", "institution_id", ids)))
    rows.append(_tally("institution_registered → inspection roster", ids,
                       _counts(inspection, "inspection_targets", "institution_id", ids)))

    # ledger imports (their events in bundles): each row once in the registry, reporting and the roster
    committed = [u for u, s in ledger.imported.items() if s == "committed"]
    unanswered = [u for u, s in ledger.imported.items() if s != "committed"]
    rows.append(_tally("ledger import rows → registry", committed,
                       _counts(registry, "institutions", "uscc", committed + unanswered), unanswered,
                       note="events sent in bundles of up to 500"))
    imported_ids = [r[0] for r in _query(registry, "SELECT id FROM institutions WHERE uscc IN :v",
                                         v=committed + unanswered)] if committed + unanswered else []
    rows.append(_tally("imported institution_registered → reporting", imported_ids,
                       _counts(reporting, "institution_facts", "institution_id", imported_ids)))
    rows.append(_tally("imported institution_registered → inspection roster", imported_ids,
                       _counts(inspection, "inspection_targets", "institution_id", imported_ids)))

    # every registered institution's LicenceVerification: started by the bridge, decided, completed
    decided = [i for i, s in ledger.decisions.items() if s == "acked"]
    statuses, extra_runs = asyncio.run(_workflow_statuses(platform["env"]["SHUANGJIAN_TEMPORAL_ADDRESS"], ids))
    started = Counter({i: 1 for i, s in statuses.items() if s != "NOT_STARTED"})
    rows.append(_tally("institution_registered → workflow started", ids, started))
    completed = Counter({i: 1 for i in decided if statuses.get(i) == "COMPLETED"})
    stuck = Counter(s for i, s in statuses.items() if i in decided and s != "COMPLETED")
    rows.append(Row("decisions → workflow completed", len(decided), sum(completed.values()),
                    len(decided) - sum(completed.values()), extra_runs,
                    ", ".join([f"{n} {s}" for s, n in stuck.items()]
                              + ([f"{len(set(ids) - set(decided))} registered but never decided (API unreachable)"]
                                 if set(ids) - set(decided) else []))))
    verified = Counter({i: 1 for (i,) in _query(registry, "SELECT id FROM institutions WHERE id IN :v "
                                                "AND verification = 'verified'", v=decided)}) if decided else Counter()
    rows.append(_tally("decisions → registry verified", decided, verified))

    tx_ids = list(ledger.transactions)
    booked = _counts(escrow, "bank_transactions", "bank_tx_id", tx_ids) if tx_ids else Counter()
    rows.append(_tally("bank transactions → escrow booked", tx_ids, booked,
                       note=f"{ledger.batches_sent} batches"))
    # balances: what was sent adds up on each account, once (a double booking would double it)
    sent_sum, sent_n = Counter(), Counter()
    for account_no, amount in ledger.transactions.values():
        sent_sum[account_no] += amount
        sent_n[account_no] += 1
    accounts = [a for a, _ in ledger.accounts]
    balances = {a: (r, n) for a, r, n in _query(
        escrow, "SELECT account_no, receipts_fen, tx_count FROM account_balances WHERE account_no IN :v", v=accounts)}
    low = sum(1 for a in accounts if balances.get(a, (0, 0))[0] < sent_sum[a])
    high = sum(1 for a in accounts if balances.get(a, (0, 0))[0] > sent_sum[a])
    rows.append(Row("bank receipts → account balances", len(accounts), len(accounts) - low - high, low, high,
                    "accounts whose receipts total equals the sum sent"))
    # bank_transactions_booked → reporting: each institution's latest balance matches escrow's
    inst = sorted({i for _, i in ledger.accounts})
    escrow_bal = {i: b for i, b in _query(
        escrow, "SELECT a.institution_id, sum(b.balance_fen) FROM escrow_accounts a JOIN account_balances b "
        "ON b.account_no = a.account_no WHERE a.institution_id IN :v GROUP BY a.institution_id", v=inst)}
    report_bal = {i: b for i, b in _query(
        reporting, "SELECT f.institution_id, f.balance_fen FROM escrow_balance_facts f WHERE f.institution_id IN :v "
        "AND f.day = (SELECT max(day) FROM escrow_balance_facts g WHERE g.institution_id = f.institution_id)", v=inst)}
    agree = sum(1 for i in inst if escrow_bal.get(i) is not None and report_bal.get(i) == escrow_bal.get(i))
    rows.append(Row("bank_transactions_booked → reporting balance", len(inst), agree, len(inst) - agree, 0,
                    "institutions whose reported balance equals escrow's"))

    markers = [m for m, s in ledger.complaints.items() if s == "acked"]
    unanswered = [m for m, s in ledger.complaints.items() if s != "acked"]
    found = Counter()
    for m in markers + unanswered:
        n = _query(inspection, "SELECT count(*) FROM complaints WHERE content LIKE :p", p=f"{m} %")[0][0]
        if n:
            found[m] = n
    rows.append(_tally("public complaints → inspection", markers, found, unanswered))
    return rows


def settle(platform, ledger: Ledger, seconds: float) -> list[Row]:
    """Reconcile until nothing is missing any more or the time is up (bounded quiescence)."""
    deadline = time.monotonic() + seconds
    while True:
        rows = reconcile(platform, ledger)
        if all(r.lost == 0 for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(3)


def table(faults: list[tuple[str, str]], rows: list[Row], ledger: Ledger) -> str:
    lines = ["", "faults injected:"]
    for i, (name, note) in enumerate(faults, 1):
        lines.append(f"  {i:>2}. {name:<28} {note}")
    if not faults:
        lines.append("  (none)")
    width = max(len(r.kind) for r in rows)
    lines += ["", f"{'kind':<{width}}  {'sent':>6}  {'applied':>7}  {'lost':>5}  {'dup':>4}  note",
              f"{'-' * width}  ------  -------  -----  ----  ----"]
    for r in rows:
        flag = "  ✗" if r.lost or r.duplicated else ""
        lines.append(f"{r.kind:<{width}}  {r.sent:>6}  {r.applied:>7}  {r.lost:>5}  {r.duplicated:>4}  {r.note}{flag}")
    if ledger.errors:
        lines += ["", "errors seen by the load generators (retried where safe):"]
        for name, n in sorted(ledger.errors.items()):
            lines.append(f"  {n:>5}  {name}")
    return "\n".join(lines)


def clean(rows: list[Row]) -> bool:
    return all(r.lost == 0 and r.duplicated == 0 for r in rows)


FULL_FAULTS = ("registry", "escrow", "inspection", "reporting", "gateway", "escrow_feed", "worker",
               "rabbitmq", "temporal")
SHORT_FAULTS = ("reporting", "worker")


def run(platform, faults=FULL_FAULTS, warmup: float = 8, between: float = 8, settle_seconds: float = 120,
        rate: float = 1.0) -> tuple[list[tuple[str, str]], list[Row], Ledger]:
    ledger = Ledger(run=time.strftime("%H%M%S") + f"{random.randrange(100):02d}")
    load = Load(platform, ledger, rate=rate)
    load.setup()
    say(f"load: 2 registrars, 1 bank feed publisher, 1 complainer, 1 ledger importer, 1 decider (run {ledger.run})")
    load.start()
    injected = []
    try:
        time.sleep(warmup)
        for name in faults:
            if name == "rabbitmq" and not broker_restart_possible():
                injected.append((name, "skipped: needs root and rabbitmqctl"))
                continue
            say(f"fault: {name}")
            try:
                if name == "rabbitmq":
                    note = restart_rabbitmq(platform)
                elif name == "temporal":
                    note = restart_temporal(platform)
                else:
                    note = kill_process(platform, name)
            except Exception as exc:  # noqa: BLE001 — the table says what happened
                note = f"FAILED: {exc}"
            say(f"  {note}")
            injected.append((name, note))
            time.sleep(between)
    finally:
        say("stopping the load")
        load.stop_load()
    say("finishing decisions")
    load.finish_decisions(120)
    say("waiting for the platform to settle, then reconciling")
    rows = settle(platform, ledger, settle_seconds)
    return injected, rows, ledger
