"""`shuangjian escrow import-statement FILE.csv`: a bank statement into the bank feed.

Reads the file here (columns: services/common/statement_file.py, docs/bank_feed.md), lists the
rows it cannot use, uploads the others in chunks through the gateway — each chunk becomes one
feed batch `stmt-<statement id>-<chunk>`, so a chunk sent twice is booked once — with a
progress bar, then waits until the bank feed has booked every chunk and prints the totals:
booked, duplicates (already booked before, e.g. the same statement imported again) and every
rejected row with its row number and reason.

Exit codes: 0 every row booked or already booked; 1 some rows rejected (the others are booked);
2 the platform refused or could not be reached (cli.main), or the feed did not finish in time.
"""
from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from services.common.row_error import RowError
from services.common.statement_file import COLUMN_OF_FIELD, StatementFileError, parse_statement

from .client import ApiError, Client

CHUNK_ROWS = 10_000
UPLOAD_WORKERS = 3  # chunks in flight: the gateway publishes while the feed books
UPLOAD_ATTEMPTS = 3
POLL_SECONDS = 0.2
STALL_SECONDS = 180.0  # no chunk finished for this long: give up waiting (the feed may be down)
MAX_LISTED = 200  # rejected rows printed; the count is always complete


def _print_rows(errors: list[RowError], err) -> None:
    for e in errors[:MAX_LISTED]:
        print(f"  {e}", file=err)
    if len(errors) > MAX_LISTED:
        print(f"  ……另有 {len(errors) - MAX_LISTED} 处未列出", file=err)


def import_statement(client: Client, path: str, chunk_rows: int = CHUNK_ROWS, progress: bool = True,
                     out=None, err=None, workers: int = UPLOAD_WORKERS, stall_seconds: float = STALL_SECONDS) -> int:
    from tqdm import tqdm

    out = out or sys.stdout
    err = err or sys.stderr
    name = Path(path).name
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        print(f"错误：无法读取文件 {path}：{exc.strerror or exc}", file=err)
        return 2
    created = client.post("/api/escrow/statements", {"file_name": name})
    statement_id = created["statement_id"]
    size = max(1, min(chunk_rows, int(created.get("chunk_rows", chunk_rows))))
    disable = None if progress else True
    started = time.monotonic()

    # read and upload at once: each full chunk goes out while the file is still being read
    local = threading.local()

    def session() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(client.url, client.token, timeout=120)
        return local.client

    def upload(no: int, bank: str, txs: list) -> int:
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                session().post(f"/api/escrow/statements/{statement_id}/chunks/{no}",
                               {"bank_code": bank, "transactions": txs})
                return len(txs)
            except (requests.RequestException, ApiError) as exc:
                retry = not isinstance(exc, ApiError) or exc.status >= 500
                if not retry or attempt == UPLOAD_ATTEMPTS:
                    raise
                time.sleep(attempt)  # the same chunk again is the same batch: idempotent

    first_rows: dict[int, int] = {}
    futures = []
    slots = threading.BoundedSemaphore(max(1, workers) * 2)  # chunks read ahead of the upload
    estimated = max(content.count(b"\n") - 1, 1)
    with tqdm(total=estimated, unit="笔", desc="上传对账单", disable=disable, file=err, dynamic_ncols=True) as bar, \
            ThreadPoolExecutor(max(1, workers)) as pool:

        def on_chunk(bank: str, txs: list) -> None:
            failed = next((f for f in futures if f.done() and f.exception()), None)
            if failed is not None:
                raise failed.exception()
            no = len(futures) + 1
            first_rows[no] = txs[0]["row"]
            slots.acquire()
            future = pool.submit(upload, no, bank, txs)
            future.add_done_callback(lambda f: (slots.release(), f.exception() or bar.update(f.result())))
            futures.append(future)

        try:
            statement = parse_statement(content, size, on_chunk)
        except StatementFileError as exc:
            print(f"错误：{name}：{exc}", file=err)
            _print_rows(exc.problems, err)
            return 1
        for future in futures:
            future.result()  # the first upload failure, if any
        bar.total = bar.n
        bar.refresh()
    del content
    local_errors = statement.errors
    local_rejected = len({e.row for e in local_errors})
    sent = statement.rows - local_rejected
    if not futures:
        print(f"{name}：没有可导入的交易（{statement.rows} 行，{local_rejected} 行有误）", file=err)
        _print_rows(local_errors, err)
        return 1

    report = _wait_for_booking(client, statement_id, len(futures), sent, disable, err, stall_seconds)
    if report is None:
        print(f"错误：{stall_seconds:.0f} 秒内银行流水接收没有进展；对账单编号 {statement_id}，"
              f"稍后可用 GET /api/escrow/statements/{statement_id} 查看结果（重新导入不会重复入账）", file=err)
        return 2

    feed_errors: list[RowError] = []
    whole_chunks = []
    for chunk in report["chunks"]:
        if chunk["status"] == "rejected" and not chunk["rejected_rows"]:
            whole_chunks.append(chunk)  # the message itself was refused
            continue
        for r in chunk["rejected_rows"]:
            for problem in r.get("errors") or [r]:
                column = COLUMN_OF_FIELD.get(problem.get("field"), problem.get("field") or "")
                feed_errors.append(RowError(r.get("row") or 0, column, problem.get("reason", "")))
    errors = sorted(local_errors + feed_errors, key=lambda e: e.row)
    totals = report["totals"]
    rejected = local_rejected + len({e.row for e in feed_errors}) + sum(c["rows"] for c in whole_chunks)
    seconds = time.monotonic() - started
    print(f"{name}：共 {statement.rows} 行，入账 {totals['booked']} 笔，重复（此前已入账）{totals['duplicates']} 笔，"
          f"拒收 {rejected} 行（{seconds:.1f} 秒；对账单编号 {statement_id}）", file=out)
    for chunk in whole_chunks:
        no = chunk.get("chunk")
        print(f"  第{no}块（自第{first_rows.get(no, '?')}行起 {chunk['rows']} 行）整块被拒收：{chunk['message']}", file=err)
    if errors:
        print("被拒收的行：", file=err)
        _print_rows(errors, err)
    return 1 if rejected else 0


def _wait_for_booking(client: Client, statement_id: str, chunks: int, rows: int, disable, err,
                      stall_seconds: float) -> dict | None:
    from tqdm import tqdm

    done_rows, last_change = 0, time.monotonic()
    with tqdm(total=rows, unit="笔", desc="银行流水入账", disable=disable, file=err, dynamic_ncols=True) as bar:
        while True:
            report = client.get(f"/api/escrow/statements/{statement_id}")
            finished = report["chunks"]
            now_rows = min(sum(c["rows"] for c in finished), rows)
            if now_rows != done_rows:
                bar.update(now_rows - done_rows)
                done_rows, last_change = now_rows, time.monotonic()
            if len(finished) >= chunks:
                return report
            if time.monotonic() - last_change > stall_seconds:
                return None
            time.sleep(POLL_SECONDS)
