"""`shuangjian dev generate` (`python -m services.reporting.synthetic`): a synthetic province
written into the reporting service's read models.

A report reads only reporting's fact tables, so a province-sized data set is made by writing those
tables directly (COPY), not by replaying millions of events through the bus. `load` applies
reporting's migrations, refuses a database whose fact tables hold rows (unless `replace`), and
COPYs every table (rows.py) in one transaction.
"""
from __future__ import annotations

import argparse
import io
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .rows import SERIAL_IDS, TABLES, Province, Sizes, make_province, row_sources

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"



class AlreadyLoaded(Exception):
    """The target's fact tables hold rows and --replace was not given."""


class _CopyStream(io.TextIOBase):
    """A file-like view of rows as COPY text, so COPY pulls them as it goes (no file, no big buffer)."""

    def __init__(self, rows: Iterator[tuple]):
        self.rows = rows
        self.buffer = ""
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        chunks, length = [self.buffer], len(self.buffer)
        while size < 0 or length < size:
            batch = []
            for row in self.rows:  # COPY text: \N for NULL, t/f, ISO dates; no value holds a tab or backslash
                batch.append("\t".join(["\\N" if v is None else "t" if v is True else "f" if v is False else str(v)
                                        for v in row]))
                if len(batch) == 2000:
                    break
            if not batch:
                break
            self.count += len(batch)
            text = "\n".join(batch) + "\n"
            chunks.append(text)
            length += len(text)
        data = "".join(chunks)
        if size < 0 or len(data) <= size:
            self.buffer = ""
            return data
        self.buffer = data[size:]
        return data[:size]


def psycopg2_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg2://…) as libpq understands it."""
    if not url.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
        raise ValueError("生成器需要 PostgreSQL 数据库（postgresql+psycopg2://…）")
    return "postgresql://" + url.split("://", 1)[1]


def migrate_reporting(url: str) -> None:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # nameko, imported by services.common.db

    from services.common.db import migrate

    sa_url = url if "+psycopg2" in url else "postgresql+psycopg2://" + url.split("://", 1)[1]
    migrate("reporting", MIGRATIONS, sa_url)


def occupied_tables(cur) -> list[str]:
    occupied = []
    for table in TABLES:
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
        if cur.fetchone()[0]:
            occupied.append(table)
    return occupied


def load(url: str, sizes: Sizes, province_code: str = "34", seed: int = 1, replace: bool = False,
         progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Migrate reporting's database at `url` and fill its fact tables; returns rows per table.
    Raises AlreadyLoaded when any fact table holds rows and `replace` is false."""
    import psycopg2

    if sizes.institutions < 1 or min(sizes.schools, sizes.transactions, sizes.inspections) < 0:
        raise ValueError("机构数至少为 1，其余数量不能为负")
    say = progress or (lambda _msg: None)
    dsn = psycopg2_dsn(url)
    province = make_province(province_code)
    migrate_reporting(url)
    with _blocking_psycopg2():
        return _load(psycopg2.connect(dsn), province, sizes, seed, replace, say)


@contextmanager
def _blocking_psycopg2():
    """COPY refuses to run with a wait callback, which eventlet installs in a patched process (the
    service tests): a load is a batch job, so it blocks the process for its duration."""
    from psycopg2 import extensions

    callback = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        yield
    finally:
        extensions.set_wait_callback(callback)


def _load(conn, province: Province, sizes: Sizes, seed: int, replace: bool, say) -> dict[str, int]:
    conn.set_client_encoding("UTF8")
    try:
        with conn.cursor() as cur:
            occupied = occupied_tables(cur)
            if occupied and not replace:
                raise AlreadyLoaded(f"报表库已有数据（{', '.join(occupied)}）；用 --replace 清空后重新生成")
            if occupied:
                cur.execute(f"TRUNCATE {', '.join(TABLES)}")
            t0 = time.monotonic()
            sources = row_sources(province, sizes, seed)
            say(f"机构等明细已生成（{time.monotonic() - t0:.1f}s）")
            counts = {}
            for table, columns in TABLES.items():
                t1 = time.monotonic()
                stream = _CopyStream(sources[table]())
                cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", stream, size=1 << 18)
                counts[table] = stream.count
                say(f"{table}: {stream.count:,} 行（{time.monotonic() - t1:.1f}s）")
            for table in SERIAL_IDS:  # later inserts by the service must not collide with these ids
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            # statistics, or the first report plans for empty tables; the visibility map and hint
            # bits, as autovacuum would leave them, or every read pays for them first
            cur.execute(f"VACUUM ANALYZE {', '.join(TABLES)}")
        return counts
    finally:
        conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="shuangjian dev generate", description="合成全省数据，写入报表库")
    default = Sizes()
    parser.add_argument("--institutions", type=int, default=default.institutions)
    parser.add_argument("--schools", type=int, default=default.schools)
    parser.add_argument("--transactions", type=int, default=default.transactions)
    parser.add_argument("--inspections", type=int, default=default.inspections)
    parser.add_argument("--province", default="34", help="两位省级代码（默认 34）")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-url", help="目标库（默认报表服务自己的库，即 SHUANGJIAN_DB_URL_<服务名> 或 _TEMPLATE 所指）")
    parser.add_argument("--replace", action="store_true", help="清空已有的报表事实表后重新生成")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from services.common.config import database_url

    args = parse_args(argv)
    url = args.db_url or database_url("reporting")
    sizes = Sizes(args.institutions, args.schools, args.transactions, args.inspections)
    t0 = time.monotonic()
    try:
        counts = load(url, sizes, args.province, args.seed, args.replace,
                      progress=lambda msg: print(f"  [{time.monotonic() - t0:5.1f}s] {msg}", flush=True))
    except (AlreadyLoaded, ValueError) as exc:
        print(f"错误：{exc}")
        return 1
    print(f"完成：{sum(counts.values()):,} 行，用时 {time.monotonic() - t0:.1f}s")
    return 0
