"""End to end: `shuangjian escrow import-statement` → gateway → bank feed process → escrow DB."""
from __future__ import annotations

import random
from datetime import date, datetime, timezone

from sqlalchemy import insert, select

from services.common.db import make_engine
from services.escrow.models import AccountBalance, EscrowAccount
from shuangjian.client import Client, wait_until
from tests.e2e.support import cli

HEADER = "银行代码,交易流水号,监管账号,交易类型,金额（元）,交易时间,合同编号\n"


def escrow_engine(platform):
    template = platform["env"].get("SHUANGJIAN_DB_URL_TEMPLATE")
    url = template.format(service="escrow") if template else f"sqlite:///{platform['var'] / 'escrow.db'}"
    return make_engine(url)


def test_a_statement_is_booked_once_and_its_bad_rows_are_listed(platform, tmp_path):
    assert Client(platform["url"]).get("/health")["components"]["escrow_feed"] == "ok"
    serial = random.randrange(10**8)
    account = f"6222{serial:012d}"
    engine = escrow_engine(platform)
    try:
        with engine.begin() as conn:  # an account as the escrow service records it when opened
            conn.execute(insert(EscrowAccount).values(
                institution_id=900_000 + serial % 1000, division_code="340722100", mode="custody",
                bank_name="徽商银行", bank_code="HSBANK", account_no=account, status="open", opened_on=date(2021, 9, 1),
                version=1, updated_at=datetime.now(timezone.utc), updated_by="e2e"))
        good = (f"HSBANK,E{serial}-1,{account},收款,\"3,000.00\",2021-11-10 09:30:00,HT-{serial}\n"
                f"HSBANK,E{serial}-2,{account},划转,120.50,2021-11-11 10:00:00,\n")
        bad = f"HSBANK,E{serial}-3,6222999999999999,收款,10.00,2021-11-11 10:00:00,\n"
        path = tmp_path / "对账单.csv"
        path.write_bytes((HEADER + good + bad).encode("gbk"))

        first = cli(platform["env"], "escrow", "import-statement", str(path), "--no-progress")
        assert first.returncode == 1, first.stdout + first.stderr
        assert "共 3 行，入账 2 笔，重复（此前已入账）0 笔，拒收 1 行" in first.stdout
        assert "第4行  监管账号  不是平台登记的监管账户" in first.stderr

        with engine.connect() as conn:
            row = conn.execute(select(AccountBalance).where(AccountBalance.account_no == account)).one()
        assert (row.receipts_fen, row.releases_fen, row.balance_fen, row.tx_count) == (300_000, 12_050, 287_950, 2)

        path.write_bytes((HEADER + good).encode("utf-8"))  # fixed, and imported again: nothing twice
        again = cli(platform["env"], "escrow", "import-statement", str(path), "--no-progress")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "入账 0 笔，重复（此前已入账）2 笔，拒收 0 行" in again.stdout
        with engine.connect() as conn:
            assert conn.execute(select(AccountBalance.balance_fen)
                                .where(AccountBalance.account_no == account)).scalar() == 287_950
    finally:
        engine.dispose()


def test_statement_routes_need_the_right_department(platform):
    from shuangjian.client import ApiError
    from tests.e2e.support import admin_client

    admin = admin_client(platform)
    created = admin.post("/api/escrow/statements", {"file_name": "x.csv"})
    assert len(created["statement_id"]) == 32
    view = wait_until(lambda: admin.get(f"/api/escrow/statements/{created['statement_id']}"), lambda v: v, 5)
    assert view["totals"]["chunks"] == 0
    try:
        admin.post(f"/api/escrow/statements/{created['statement_id']}/chunks/1", {"bank_code": "X", "transactions": []})
    except ApiError as exc:
        assert exc.status == 400 and exc.error["field"] == "transactions"
    else:
        raise AssertionError("an empty chunk must be refused")
