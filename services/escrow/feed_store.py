"""Where the bank feed books: PostgreSQL (COPY into a temp table, one INSERT … ON CONFLICT DO
NOTHING RETURNING) or SQLite (the default of `make up`; plain executemany).

`book(entries)` takes the checked batches of one group — several messages — and in ONE
database transaction inserts their valid transactions (idempotent by bank code + bank
transaction id), adds what was actually inserted to the account balances, and records a
`feed_batches` row per batch. It returns what each batch booked, for the events. Nothing is
acknowledged to the broker before this transaction has committed.
"""
from __future__ import annotations

import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import make_url

from services.common.db import make_engine

from .feed_rules import AccountRef, Batch, MalformedBatch
from .models import AccountBalance, BankTransaction, EscrowAccount, FeedBatch, OutboxRow

RECEIPT, RELEASE, REFUND = "receipt", "release", "refund"
MAX_STORED_REJECTIONS = 10_000  # per batch, in feed_batches.reason (a batch has at most 10,000 rows)


@dataclass
class Malformed:
    """A malformed message, for the record: a feed_batches row when it had a usable batch id."""

    error: MalformedBatch
    source: str = "amqp"


@dataclass
class Booked:
    """What one batch's delivery booked (after the commit)."""

    batch_id: str
    new: int  # transactions inserted by this delivery
    booked: int  # transactions booked under this batch id, this and earlier deliveries
    duplicates: int  # valid transactions already booked before (by any batch)
    rejected: int  # rows refused by the rules
    status: str  # booked | partial | rejected
    by_institution: dict = field(default_factory=dict)  # institution_id -> [receipts, releases, refunds] fen (new rows)
    accounts: dict = field(default_factory=dict)  # institution_id -> one of its accounts booked now
    contract_nos: list = field(default_factory=list)  # receipts booked now that name a contract
    balances: dict = field(default_factory=dict)  # institution_id -> balance_fen after the commit


def batch_status(valid: int, rejected: int) -> str:
    if rejected and not valid:
        return "rejected"
    return "partial" if rejected else "booked"


def batch_reason(batch: Batch) -> str | None:
    if not batch.rejected:
        return None
    rows = [r.as_dict() for r in batch.rejected[:MAX_STORED_REJECTIONS]]
    return json.dumps({"message": f"{len({r.index for r in batch.rejected})} 笔交易被拒收", "field": None,
                       "rejected": rows}, ensure_ascii=False)


def malformed_reason(error: MalformedBatch) -> str:
    return json.dumps({"message": error.reason, "field": error.field, "rejected": []}, ensure_ascii=False)


def reason_details(reason: str | None) -> dict:
    """feed_batches.reason back as {message, field, rejected}."""
    if not reason:
        return {"message": None, "field": None, "rejected": []}
    try:
        data = json.loads(reason)
        if isinstance(data, dict):
            return {"message": data.get("message"), "field": data.get("field"), "rejected": data.get("rejected") or []}
    except ValueError:
        pass
    return {"message": reason, "field": None, "rejected": []}


def open_store(url: str):
    return PostgresStore(url) if make_url(url).get_backend_name() == "postgresql" else SqliteStore(url)


class _Reads:
    """Reads shared by both stores (SQLAlchemy Core on a pooled engine)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        # (Batch, Booked) -> (event_type, event, headers) | None: the event a booking announces, written
        # to the outbox in the booking's own transaction (services/common/outbox.py)
        self.events_for = None

    def accounts_fingerprint(self) -> tuple:
        with self.engine.connect() as conn:
            row = conn.execute(select(
                func.count(), func.max(EscrowAccount.id), func.max(EscrowAccount.updated_at),
                func.coalesce(func.sum(EscrowAccount.version), 0),
            )).one()
        return tuple(str(v) for v in row)

    def load_accounts(self) -> dict[str, AccountRef]:
        t = EscrowAccount
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.account_no, t.institution_id, t.division_code, t.bank_code, t.status,
                                       t.closed_on)).all()
        return {r[0]: AccountRef(r[0], int(r[1]), r[2], r[3], r[4], r[5]) for r in rows}

    def feed_batches(self, batch_id_prefix: str | None = None, batch_id: str | None = None) -> list[dict]:
        t = FeedBatch
        query = select(t.batch_id, t.source, t.received_at, t.rows, t.booked, t.duplicates, t.status, t.reason)
        if batch_id is not None:
            query = query.where(t.batch_id == batch_id)
        else:
            query = query.where(t.batch_id.like(batch_id_prefix.replace("_", r"\_") + "%", escape="\\"))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.batch_id)).all()
        out = []
        for r in rows:
            details = reason_details(r.reason)
            received = r.received_at
            if received is not None and received.tzinfo is None:
                received = received.replace(tzinfo=timezone.utc)
            out.append({
                "batch_id": r.batch_id, "source": r.source, "received_at": received.isoformat() if received else None,
                "rows": r.rows, "booked": r.booked, "duplicates": r.duplicates, "status": r.status,
                "rejected": len({x.get("index") for x in details["rejected"]}) if details["rejected"] else
                (r.rows if r.status == "rejected" else 0),
                "message": details["message"], "field": details["field"], "rejected_rows": details["rejected"],
            })
        return out

    def close(self) -> None:
        self.engine.dispose()


class PostgresStore(_Reads):
    """psycopg2: COPY the group's rows into a temp table, insert them all with one statement."""

    STAGE = (
        "CREATE TEMP TABLE IF NOT EXISTS feed_stage (seq integer, batch_id text, bank_code text, bank_tx_id text,"
        " account_no text, institution_id integer, kind text, amount_fen bigint, occurred_at timestamptz,"
        " contract_no text) ON COMMIT DELETE ROWS"
    )
    INSERT = """
        WITH ins AS (
          INSERT INTO bank_transactions (bank_code, bank_tx_id, account_no, institution_id, kind, amount_fen,
                                         occurred_at, contract_no, batch_id)
          SELECT bank_code, bank_tx_id, account_no, institution_id, kind, amount_fen, occurred_at, contract_no,
                 batch_id
          FROM feed_stage ORDER BY seq
          ON CONFLICT (bank_code, bank_tx_id) DO NOTHING
          RETURNING batch_id, account_no, institution_id, kind, amount_fen, occurred_at, contract_no)
        SELECT batch_id, account_no, institution_id,
               coalesce(sum(amount_fen) FILTER (WHERE kind = 'receipt'), 0)::bigint,
               coalesce(sum(amount_fen) FILTER (WHERE kind = 'release'), 0)::bigint,
               coalesce(sum(amount_fen) FILTER (WHERE kind = 'refund'), 0)::bigint,
               count(*), max(occurred_at),
               array_agg(contract_no) FILTER (WHERE kind = 'receipt' AND contract_no IS NOT NULL)
        FROM ins GROUP BY batch_id, account_no, institution_id"""
    BALANCES = """
        INSERT INTO account_balances (account_no, institution_id, receipts_fen, releases_fen, refunds_fen,
                                      balance_fen, tx_count, last_tx_at)
        VALUES %s
        ON CONFLICT (account_no) DO UPDATE SET
          receipts_fen = account_balances.receipts_fen + EXCLUDED.receipts_fen,
          releases_fen = account_balances.releases_fen + EXCLUDED.releases_fen,
          refunds_fen = account_balances.refunds_fen + EXCLUDED.refunds_fen,
          balance_fen = account_balances.balance_fen + EXCLUDED.balance_fen,
          tx_count = account_balances.tx_count + EXCLUDED.tx_count,
          last_tx_at = GREATEST(account_balances.last_tx_at, EXCLUDED.last_tx_at)"""
    INSTITUTION_BALANCES = (
        "SELECT institution_id, sum(balance_fen) FROM account_balances WHERE institution_id = ANY(%s)"
        " GROUP BY institution_id"
    )
    # a replayed batch: what it booked before stays booked; duplicates are rows booked by others
    BATCHES = """
        INSERT INTO feed_batches (batch_id, source, received_at, rows, booked, duplicates, status, reason)
        VALUES %s
        ON CONFLICT (batch_id) DO UPDATE SET
          rows = EXCLUDED.rows,
          booked = feed_batches.booked + EXCLUDED.booked,
          duplicates = GREATEST(EXCLUDED.duplicates - feed_batches.booked, 0),
          status = EXCLUDED.status,
          reason = EXCLUDED.reason
        RETURNING batch_id, booked, duplicates"""
    MALFORMED = (
        "INSERT INTO feed_batches (batch_id, source, received_at, rows, booked, duplicates, status, reason)"
        " VALUES %s ON CONFLICT (batch_id) DO NOTHING"
    )
    OUTBOX = (
        "INSERT INTO outbox (event_id, exchange, event_type, body, headers, created_at, attempts)"
        " VALUES %s ON CONFLICT (event_id) DO NOTHING"
    )
    OUTBOX_TEMPLATE = "(%s, %s, %s, %s::json, %s::json, %s, 0)"

    def __init__(self, url: str):
        super().__init__(url)
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = None

    def _connect(self):
        import psycopg2

        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(self.dsn)
            with self.conn.cursor() as cur:
                cur.execute(self.STAGE)
            self.conn.commit()
        return self.conn

    def reset(self) -> None:
        """After a connection failure: the next book() connects again."""
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def book(self, entries: list) -> list[Booked | None]:
        from psycopg2.extras import execute_values

        conn = self._connect()
        now = datetime.now(timezone.utc)
        try:
            with conn.cursor() as cur:
                batches = [e for e in entries if isinstance(e, Batch)]
                inserted = self._insert(cur, batches) if any(b.valid for b in batches) else []
                per_batch, deltas = _aggregate(inserted)
                balances = {}
                if deltas:
                    execute_values(cur, self.BALANCES, [
                        (acc, inst, d[0], d[1], d[2], d[0] - d[1] - d[2], d[3], d[4])
                        for (acc, inst), d in sorted(deltas.items())
                    ])
                    cur.execute(self.INSTITUTION_BALANCES, (sorted({inst for _, inst in deltas}),))
                    balances = {int(i): int(b) for i, b in cur.fetchall()}
                results: dict[str, Booked] = {}
                if batches:
                    rows = []
                    for b in batches:
                        new = per_batch[b.batch_id].count if b.batch_id in per_batch else 0
                        rejected = len({r.index for r in b.rejected})
                        rows.append((b.batch_id, b.source, now, b.rows, new, len(b.valid) - new,
                                     batch_status(len(b.valid), rejected), batch_reason(b)))
                    for batch_id, booked, duplicates in execute_values(cur, self.BATCHES, rows, fetch=True):
                        results[batch_id] = (booked, duplicates)
                malformed = [e for e in entries if isinstance(e, Malformed) and e.error.batch_id]
                if malformed:
                    execute_values(cur, self.MALFORMED, [
                        (m.error.batch_id, m.source, now, m.error.rows, 0, 0, "rejected", malformed_reason(m.error))
                        for m in malformed
                    ])
                booked = _results(entries, per_batch, results, balances)
                events = _outbox_rows(entries, booked, self.events_for, now)
                if events:
                    execute_values(cur, self.OUTBOX, [
                        (r["event_id"], r["exchange"], r["event_type"], json.dumps(r["body"], ensure_ascii=False),
                         json.dumps(r["headers"]), now) for r in events], template=self.OUTBOX_TEMPLATE)
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                self.reset()
            raise
        return booked

    def _insert(self, cur, batches: list[Batch]) -> list[tuple]:
        buf = io.StringIO()
        write = buf.write
        seq = 0
        for b in batches:
            prefix = f"{b.batch_id}\t{b.bank_code}\t"
            for _, tx_id, account_no, institution_id, kind, amount, occurred, contract_no in b.valid:
                if "\\" in tx_id:
                    tx_id = tx_id.replace("\\", "\\\\")
                if contract_no is None:
                    contract_no = "\\N"
                elif "\\" in contract_no:
                    contract_no = contract_no.replace("\\", "\\\\")
                write(f"{seq}\t{prefix}{tx_id}\t{account_no}\t{institution_id}\t{kind}\t{amount}\t"
                      f"{occurred.isoformat()}\t{contract_no}\n")
                seq += 1
        buf.seek(0)
        cur.copy_expert(
            "COPY feed_stage (seq, batch_id, bank_code, bank_tx_id, account_no, institution_id, kind, amount_fen,"
            " occurred_at, contract_no) FROM STDIN", buf, size=1 << 20)
        cur.execute(self.INSERT)
        return cur.fetchall()

    def close(self) -> None:
        self.reset()
        super().close()


class SqliteStore(_Reads):
    """SQLite (one writer): look up which keys exist, insert the others with executemany."""

    def reset(self) -> None:
        pass

    def book(self, entries: list) -> list[Booked | None]:
        now = datetime.now(timezone.utc)
        tx = BankTransaction.__table__
        batches = [e for e in entries if isinstance(e, Batch)]
        with self.engine.begin() as conn:
            seen: set[tuple[str, str]] = set()
            new_rows = []
            for b in batches:
                ids = [v[1] for v in b.valid]
                for start in range(0, len(ids), 500):
                    part = ids[start:start + 500]
                    seen.update((b.bank_code, i) for (i,) in conn.execute(
                        select(tx.c.bank_tx_id).where(tx.c.bank_code == b.bank_code, tx.c.bank_tx_id.in_(part))))
                for _, tx_id, account_no, institution_id, kind, amount, occurred, contract_no in b.valid:
                    key = (b.bank_code, tx_id)
                    if key in seen:
                        continue
                    seen.add(key)
                    new_rows.append({
                        "bank_code": b.bank_code, "bank_tx_id": tx_id, "account_no": account_no,
                        "institution_id": institution_id, "kind": kind, "amount_fen": amount,
                        "occurred_at": occurred, "contract_no": contract_no, "batch_id": b.batch_id,
                    })
            if new_rows:
                conn.execute(insert(tx), new_rows)
            inserted = [(r["batch_id"], r["account_no"], r["institution_id"], r["kind"], r["amount_fen"],
                         r["occurred_at"], r["contract_no"]) for r in new_rows]
            per_batch, deltas = _aggregate_rows(inserted)
            balances = {}
            if deltas:
                bal = AccountBalance.__table__
                for (account_no, institution_id), d in sorted(deltas.items()):
                    current = conn.execute(select(bal).where(bal.c.account_no == account_no)).first()
                    if current is None:
                        conn.execute(insert(bal).values(
                            account_no=account_no, institution_id=institution_id, receipts_fen=d[0],
                            releases_fen=d[1], refunds_fen=d[2], balance_fen=d[0] - d[1] - d[2], tx_count=d[3],
                            last_tx_at=d[4]))
                    else:
                        last = current.last_tx_at
                        if last is not None and last.tzinfo is None:
                            last = last.replace(tzinfo=timezone.utc)
                        conn.execute(update(bal).where(bal.c.account_no == account_no).values(
                            receipts_fen=current.receipts_fen + d[0], releases_fen=current.releases_fen + d[1],
                            refunds_fen=current.refunds_fen + d[2],
                            balance_fen=current.balance_fen + d[0] - d[1] - d[2],
                            tx_count=current.tx_count + d[3], last_tx_at=max(d[4], last) if last else d[4]))
                institutions = sorted({inst for _, inst in deltas})
                balances = {int(i): int(s) for i, s in conn.execute(
                    select(bal.c.institution_id, func.sum(bal.c.balance_fen))
                    .where(bal.c.institution_id.in_(institutions)).group_by(bal.c.institution_id))}
            fb = FeedBatch.__table__
            results = {}
            for b in batches:
                new = per_batch[b.batch_id].count if b.batch_id in per_batch else 0
                rejected = len({r.index for r in b.rejected})
                values = dict(source=b.source, rows=b.rows, status=batch_status(len(b.valid), rejected),
                              reason=batch_reason(b))
                current = conn.execute(select(fb.c.booked).where(fb.c.batch_id == b.batch_id)).first()
                if current is None:
                    booked, duplicates = new, len(b.valid) - new
                    conn.execute(insert(fb).values(batch_id=b.batch_id, received_at=now, booked=booked,
                                                   duplicates=duplicates, **values))
                else:
                    booked = current.booked + new
                    duplicates = max(len(b.valid) - new - current.booked, 0)
                    values.pop("source")
                    conn.execute(update(fb).where(fb.c.batch_id == b.batch_id).values(
                        booked=booked, duplicates=duplicates, **values))
                results[b.batch_id] = (booked, duplicates)
            for m in entries:
                if isinstance(m, Malformed) and m.error.batch_id:
                    exists = conn.execute(select(fb.c.batch_id).where(fb.c.batch_id == m.error.batch_id)).first()
                    if exists is None:
                        conn.execute(insert(fb).values(
                            batch_id=m.error.batch_id, source=m.source, received_at=now, rows=m.error.rows,
                            booked=0, duplicates=0, status="rejected", reason=malformed_reason(m.error)))
            booked = _results(entries, per_batch, results, balances)
            events = _outbox_rows(entries, booked, self.events_for, now)
            if events:
                conn.execute(insert(OutboxRow.__table__), events)
        return booked


# -- aggregation shared by both stores ------------------------------------------------------------


@dataclass
class _BatchSums:
    count: int = 0
    by_institution: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    accounts: dict = field(default_factory=dict)  # institution -> account numbers
    contract_nos: list = field(default_factory=list)


def _aggregate(grouped: list[tuple]) -> tuple[dict, dict]:
    """PostgreSQL's grouped RETURNING rows: (batch, account, institution, receipts, releases,
    refunds, count, last_at, contract_nos)."""
    per_batch: dict[str, _BatchSums] = {}
    deltas: dict[tuple[str, int], list] = {}
    for batch_id, account_no, institution_id, receipts, releases, refunds, count, last_at, contracts in grouped:
        sums = per_batch.setdefault(batch_id, _BatchSums())
        sums.count += count
        inst = sums.by_institution[institution_id]
        inst[0] += receipts
        inst[1] += releases
        inst[2] += refunds
        sums.accounts.setdefault(institution_id, account_no)
        if contracts:
            sums.contract_nos.extend(contracts)
        d = deltas.setdefault((account_no, institution_id), [0, 0, 0, 0, last_at])
        d[0] += receipts
        d[1] += releases
        d[2] += refunds
        d[3] += count
        if last_at > d[4]:
            d[4] = last_at
    return per_batch, deltas


def _aggregate_rows(rows: list[tuple]) -> tuple[dict, dict]:
    """SQLite: the inserted rows one by one, grouped the way PostgreSQL groups them."""
    grouped: dict[tuple, list] = {}
    for batch_id, account_no, institution_id, kind, amount, occurred, contract_no in rows:
        g = grouped.setdefault((batch_id, account_no, institution_id), [0, 0, 0, 0, occurred, []])
        g[{"receipt": 0, "release": 1, "refund": 2}[kind]] += amount
        g[3] += 1
        if occurred > g[4]:
            g[4] = occurred
        if kind == RECEIPT and contract_no is not None:
            g[5].append(contract_no)
    return _aggregate([(*key, g[0], g[1], g[2], g[3], g[4], g[5]) for key, g in grouped.items()])


def _outbox_rows(entries, booked, events_for, now) -> list[dict]:
    """The outbox rows of a group's bookings (only batches that booked something new)."""
    if events_for is None:
        return []
    rows = []
    for entry, result in zip(entries, booked):
        if result is None or not result.new:
            continue
        made = events_for(entry, result)
        if made is None:
            continue
        event_type, body, headers = made
        rows.append({"event_id": body["event_id"], "exchange": f"{body['source']}.events", "event_type": event_type,
                     "body": body, "headers": headers, "created_at": now, "attempts": 0})
    return rows


def _results(entries, per_batch, results, balances) -> list[Booked | None]:
    out: list[Booked | None] = []
    for e in entries:
        if not isinstance(e, Batch):
            out.append(None)
            continue
        sums = per_batch.get(e.batch_id)
        booked, duplicates = results[e.batch_id]
        rejected = len({r.index for r in e.rejected})
        item = Booked(e.batch_id, sums.count if sums else 0, booked, duplicates, rejected,
                      batch_status(len(e.valid), rejected))
        if sums:
            item.by_institution = {k: list(v) for k, v in sums.by_institution.items()}
            item.contract_nos = sums.contract_nos
            item.balances = {k: balances.get(k, 0) for k in sums.by_institution}
            item.accounts = dict(sums.accounts)
        out.append(item)
    return out
