"""`make demo`: a demo county (枞阳县) loaded over the API, then the foundation slice shown."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from services.common.money_text import yuan
from services.common.workdays import SHANGHAI

from .client import ApiError, Client, wait_until
from .codes import make_uscc

COUNTY = "340722"
# 16 townships as in the seed press release; codes are illustrative.
TOWNSHIPS = [
    ("340722100", "枞阳镇"), ("340722101", "横埠镇"), ("340722102", "项铺镇"), ("340722103", "钱桥镇"),
    ("340722104", "麒麟镇"), ("340722105", "义津镇"), ("340722106", "浮山镇"), ("340722107", "会宫镇"),
    ("340722108", "官埠桥镇"), ("340722109", "汤沟镇"), ("340722110", "老洲镇"), ("340722111", "陈瑶湖镇"),
    ("340722112", "周潭镇"), ("340722113", "白柳镇"), ("340722200", "雨坛乡"), ("340722201", "金社乡"),
]
COUNTY_DEPARTMENTS = [
    ("education", "枞阳县教育体育局"),
    ("civil_affairs", "枞阳县民政局"),
    ("market_regulation", "枞阳县市场监督管理局"),
    ("public_security", "枞阳县公安局"),
    ("urban_management", "枞阳县城市管理综合执法局"),
    ("supervision_office", "枞阳县人民政府教育督导室"),
]
DEMO_PASSWORD = "Shuangjian@2021"
DEMO_USERS = [
    ("jiaoti_leader", "王科长", "education", ["leader", "clerk"]),
    ("jiaoti_clerk", "李干事", "education", ["clerk"]),
    ("minzheng_leader", "张科长", "civil_affairs", ["leader", "clerk"]),
    ("shichang_leader", "赵科长", "market_regulation", ["leader", "clerk"]),
    ("dudao", "陈督学", "supervision_office", ["leader", "clerk"]),
]


def _create(client: Client, path: str, body: dict):
    try:
        return client.post(path, body)
    except ApiError as exc:
        if exc.status == 409:
            return None  # already loaded by an earlier demo run
        raise


def load_demo_county(client: Client) -> dict[str, int]:
    for code, name in TOWNSHIPS:
        _create(client, "/api/divisions", {"code": code, "name": name})
    for kind, name in COUNTY_DEPARTMENTS:
        _create(client, "/api/departments", {"division_code": COUNTY, "kind": kind, "name": name})
    for code, name in TOWNSHIPS:
        _create(client, "/api/departments", {"division_code": code, "kind": "township", "name": f"{name}人民政府"})
    departments = {d["kind"]: d["id"] for d in client.get("/api/departments")["items"]
                   if d["division_code"] == COUNTY}
    for username, display, kind, roles in DEMO_USERS:
        _create(client, "/api/users", {
            "username": username, "password": DEMO_PASSWORD, "display_name": display,
            "department_id": departments[kind], "roles": roles,
        })
    return departments


def _as(client: Client, username: str) -> Client:
    other = Client(client.url)
    other.login(username, DEMO_PASSWORD)
    return other


def step(n: int, text: str) -> None:
    print(f"\n[{n}] {text}", flush=True)


def run_demo(admin: Client) -> int:
    step(1, "载入演示县：枞阳县，16个乡镇，6个县直部门，5个用户")
    load_demo_county(admin)
    print(f"    用户：{'、'.join(u[0] for u in DEMO_USERS)}（密码 {DEMO_PASSWORD}）")

    education = _as(admin, "jiaoti_leader")
    civil = _as(admin, "minzheng_leader")
    import_seed_ledger(education)
    before = education.get("/api/reports/institution-counts")["institutions_total"]

    step(2, "教体局王科长登记一家学科类培训机构")
    serial = random.randrange(10**8, 10**9)
    institution = education.post("/api/institutions", {
        "name": f"枞阳县启明学科培训学校（演示{serial % 1000:03d}）",
        "uscc": make_uscc(serial),
        "licence_no": f"教民134072270{serial % 100000:05d}号",
        "licence_issued_on": "2021-06-18",
        "category": "学科类",
        "legal_form": "营利性",
        "township_code": "340722100",
        "address": "枞阳镇渡江路88号",
    })
    iid = institution["id"]
    print(f"    机构编号 {iid}，统一社会信用代码 {institution['uscc']}，状态 {institution['status_name']}，"
          f"核验 {institution['verification_name']}")

    step(3, "报表读模型由 institution_registered 事件更新")
    counts = wait_until(lambda: education.get("/api/reports/institution-counts"),
                   lambda c: c["institutions_total"] > before)
    print(f"    截至 {counts['as_of']}：机构总数 {counts['institutions_total']}（登记前 {before}），"
          f"学科类 {counts['institutions_academic']}，状态 {counts['status_counts']}")

    step(4, "Temporal 核验流程已由事件启动，等待教体局决定")
    state = wait_until(lambda: _verification(education, iid), lambda s: s is not None)
    print(f"    流程状态 {state['status']}，时限 {state['deadline']}")

    step(5, "民政局张科长试图作出核验决定 → 应被拒绝")
    try:
        civil.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "verified"})
        print("    ✗ 未被拒绝")
        return 1
    except ApiError as exc:
        print(f"    已拒绝：HTTP {exc.status}，{exc.error['message']}")

    step(6, "教体局王科长核验通过；流程通过 RPC 回写机构登记")
    education.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "verified"})
    record = wait_until(lambda: education.get(f"/api/institutions/{iid}"),
                   lambda r: r["verification"] == "verified")
    print(f"    登记库：核验 {record['verification_name']}，核验人 {record['verified_by']}")

    converted = run_conversion(admin, education, civil, iid)
    prepaid = run_prepaid(education, iid, first_step=13)
    inspected = run_inspection(education, iid, first_step=18)

    reported = run_report(education, first_step=21)

    step(22, "健康检查")
    report = admin.get("/health")
    for name, status in report["components"].items():
        print(f"    {name:<11} {status}")
    ok = (record["verification"] == "verified" and converted and prepaid and inspected and reported
          and report["status"] == "ok")
    print(f"\n页面：{admin.url}/ui/ （各部门登录后见本部门待办）；公众：{admin.url}/public/")
    for username, display, kind, _ in DEMO_USERS:
        print(f"    {username:<16} {display}（{kind}）  密码 {DEMO_PASSWORD}")
    print("\n演示完成。" if ok else "\n演示未全部成功，请查看 var/log/。")
    return 0 if ok else 1


def _verification(client: Client, iid: int):
    try:
        return client.get(f"/api/institutions/{iid}/verification")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


ACTION_NAMES = {"approve": "通过", "return": "退回", "completed": "办结"}


def _local(iso: str) -> str:
    """An API timestamp as officials read it: Beijing time, to the minute."""
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _charge_check(client: Client, iid: int) -> str:
    try:
        client.get(f"/api/escrow/institutions/{iid}/charge-check")
        return "允许收费"
    except ApiError as exc:
        return f"拒绝收费（{exc.error['message']}）"


def _decide(client: Client, workflow_id: str, **body) -> dict:
    return client.post(f"/api/cases/{workflow_id}/decision", body)


def run_conversion(admin: Client, education: Client, civil: Client, iid: int) -> bool:
    """营转非 end to end: three departments, each from its own inbox."""
    market = _as(admin, "shichang_leader")
    year_end = f"{date.today().year}-12-31"

    step(7, f"教体局设置本县营转非截止日期（演示用 {year_end}；全国默认 2021-12-31）")
    education.request("PUT", "/api/settings/county", {"conversion_deadline": year_end, "conversion_variant": "national"})

    step(8, "教体局受理该机构营转非申请：自申请起暂停招生和收费")
    case = education.post(f"/api/institutions/{iid}/conversion")
    wid = case["workflow_id"]
    print(f"    办件 {wid}，当前步骤：{case['current_step_title']}")
    print("    资金监管：" + wait_until(lambda: _charge_check(education, iid), lambda r: r.startswith("拒绝")))

    step(9, "教体局收件箱 → 核发非营利性办学许可证并收回原证")
    inbox = wait_until(lambda: education.get("/api/inbox")["items"],
                       lambda items: any(i["workflow_id"] == wid and i["deadline"] for i in items))
    item = next(i for i in inbox if i["workflow_id"] == wid)
    print(f"    待办：{item['step_title']}，办理时限 {_local(item['deadline'])}（剩余约 {item['seconds_left'] // 3600} 小时）")
    _decide(education, wid, action="approve", note="新证号 教民134072270099号")

    step(10, "市场监管局越步办理 → 拒绝；民政局登记为民办非企业单位")
    try:
        _decide(market, wid, action="approve")
    except ApiError as exc:
        print(f"    已拒绝：HTTP {exc.status}，{exc.error['message']}")
    _decide(civil, wid, action="approve", note="民非登记证书 民证字第0099号")
    print("    资金监管：" + wait_until(lambda: _charge_check(education, iid), lambda r: r == "允许收费"))

    step(11, "市场监管局退回民政局补正（驳回），民政局重新登记后再次通过")
    _decide(market, wid, action="return", return_to="civil_affairs_registration", reason="民非名称与章程不一致")
    _decide(civil, wid, action="approve", note="已更正名称")

    step(12, "市场监管局在7个工作日内变更经营范围；结果回报教体局")
    _decide(market, wid, action="approve", note="营业执照已注销")
    final = wait_until(lambda: education.get(f"/api/institutions/{iid}/cases/conversion"),
                       lambda c: any(h["action"] == "completed" for h in c["history"]))
    institution = education.get(f"/api/institutions/{iid}")
    for entry in final["history"]:
        if entry["action"] in ACTION_NAMES:
            print(f"    {_local(entry['at'])}  {ACTION_NAMES[entry['action']]:<4} {entry['step_title']:<16} {entry['actor']}")
    print(f"    办件状态 {final['status']}；机构法人类型：{institution['legal_form_name']}")
    return final["status"] == "completed" and institution["legal_form"] == "non_profit"


# -- 预收费资金监管 (issue 4) ------------------------------------------------------------------------


def _yuan(fen: int) -> str:
    return f"{yuan(fen)}元"


def run_prepaid(education: Client, iid: int, first_step: int) -> bool:
    """Account, fee item, a charge on the model contract, a lesson, the position; then a charge over
    the caps: refused, raised as an alert with its evidence, and a lead for inspection."""
    from datetime import timedelta

    n = first_step
    today = date.today()
    step(n, "教体局为该机构开设预收费资金监管账户（银行托管，托管协议已备案）")
    account = education.post("/api/escrow/accounts", {
        "institution_id": iid, "mode": "custody", "bank_name": "中国农业银行枞阳县支行", "bank_code": "ABC",
        "account_no": f"62284800{iid:08d}", "custody_agreement_no": f"枞教托管〔{today.year}〕{iid}号",
    })
    print(f"    监管账户 {account['account_no']}（{account['mode_name']}，{account['bank_name']}），"
          f"托管协议 {account['custody_agreement_no']}")

    step(n + 1, "公示收费项目和标准")
    item = education.post(f"/api/escrow/institutions/{iid}/fee-items", {"name": "初中数学（班课）", "price_per_hour_fen": 8000})
    print(f"    {item['name']}：{_yuan(item['price_per_hour_fen'])}/课时，{item['state_name']}")

    step(n + 2, "按示范合同签约收费：40课时、两个月，一次收费3200.00元")
    contract = education.post("/api/escrow/contracts", {
        "institution_id": iid, "contract_no": f"ZY{today:%Y%m%d}-{iid}-1", "fee_item_id": item["id"],
        "student_name": "张小明", "class_hours": 40, "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=60)).isoformat(), "amount_fen": 320000, "channel": "wechat",
    })
    print(f"    合同 {contract['contract_no']}（{contract['template_name']}），{_yuan(contract['amount_fen'])}，"
          f"{contract['channel_name']}，{contract['status_name']}")
    lesson = education.post(f"/api/escrow/contracts/{contract['id']}/lessons", {"lesson_no": 1, "hours": 2})
    print(f"    一课一消：第1次课 2课时 {_yuan(lesson['fee_fen'])}，{lesson['confirmation_name']}，"
          f"家长未确认则于 {_local(lesson['confirm_by'])} 视为确认")
    position = education.get(f"/api/escrow/institutions/{iid}/position")
    print(f"    资金头寸：已收 {_yuan(position['paid_fen'])}，已上课 {_yuan(position['delivered_fen'])}，"
          f"未消课预收费 {_yuan(position['unearned_fen'])}，监管余额 {_yuan(position['balance_fen'])}"
          f"（银行尚未推送流水），可划拨 {_yuan(position['releasable_fen'])}")

    step(n + 3, "再收一笔80课时、四个月、6400.00元的费用 → 超出60课时/3个月/5000元上限，拒绝并预警")
    try:
        education.post("/api/escrow/contracts", {
            "institution_id": iid, "contract_no": f"ZY{today:%Y%m%d}-{iid}-2", "fee_item_id": item["id"],
            "student_name": "李小红", "class_hours": 80, "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=120)).isoformat(), "amount_fen": 640000, "channel": "alipay",
        })
        print("    ✗ 未被拒绝")
        return False
    except ApiError as exc:
        print(f"    已拒绝：HTTP {exc.status}，{exc.error['message']}（字段 {exc.error['field']}）")
    contracts = education.get("/api/escrow/contracts", institution=iid)["total"]
    print(f"    该机构合同数仍为 {contracts}（被拒绝的收费不留任何记录）")

    step(n + 4, "预警及其证据；检查执法收到线索，报表计入")
    alerts = education.get("/api/escrow/alerts", institution=iid)["items"]
    for alert in alerts:
        e = alert["evidence"]
        print(f"    预警 #{alert['id']} {alert['kind_name']}（{alert['status_name']}），合同 {e['contract_no']}：")
        print(f"      课时 {e['class_hours']}（上限 {e['max_class_hours']}），周期 {e['starts_on']} 至 {e['ends_on']}"
              f"（上限 {e['max_months']} 个月），金额 {_yuan(e['amount_fen'])}（上限 {_yuan(e['charge_cap_fen'])}）")
    lead = wait_until(lambda: _lead(education, iid), lambda x: x is not None)
    if lead is not None:
        print(f"    检查执法线索 #{lead['id']}：{lead['institution_name']}，{lead['reason_name']}，{lead['status_name']}")
    summary = wait_until(lambda: education.get("/api/reports/escrow-summary"), lambda x: x["alerts_open"] >= 1)
    print(f"    报表（截至 {summary['as_of']}）：监管账户 {summary['accounts_open']} 个，"
          f"监管资金 {_yuan(summary['funds_under_supervision_fen'])}，未处理预警 {summary['alerts_open']} 条")
    return bool(alerts) and lead is not None and contracts == 1


def _lead(client: Client, iid: int):
    return next((x for x in client.get("/api/inspection/leads")["items"] if x["institution_id"] == iid), None)


CHECKLIST_ITEMS = (
    "licences_and_scope", "address_and_branches", "signs_and_ads", "operator_matches", "staff_qualifications",
    "content", "model_contract_and_fees", "advertising", "fire_safety", "epidemic_prevention",
    "academic_on_rest_days", "class_end_times",
)


def run_inspection(education: Client, iid: int, first_step: int) -> bool:
    """A covert sweep of 枞阳镇 by a joint team: one finding, a 停业整顿 order the registry applies,
    a passed re-inspection that restores 正常营业 (Rectification workflow)."""
    today = date.today()
    step(first_step, "联合执法组对枞阳镇开展拉网式暗访（公安、教体、市场监管）")
    team = [{"department_kind": "education", "name": "王科长"}, {"department_kind": "public_security", "name": "张警官"},
            {"department_kind": "market_regulation", "name": "赵科长"}]
    campaign = education.post("/api/inspection/campaigns", {
        "name": f"{today.isoformat()} 双休日暗访", "kind": "sweep", "mode": "covert", "townships": ["340722100"],
        "start_date": today.isoformat(), "end_date": (today + timedelta(days=7)).isoformat(), "team": team})
    before = education.get(f"/api/inspection/campaigns/{campaign['id']}/coverage")
    print(f"    检查计划 #{campaign['id']}：应查 {before['in_scope']} 家，已查 {before['visited']} 家")

    checklist = {key: {"result": "pass"} for key in CHECKLIST_ITEMS}
    checklist["fire_safety"] = {"result": "fail", "notes": "安全出口被教室隔断堵塞，灭火器过期"}
    record = education.post("/api/inspection/records", {
        "institution_id": iid, "campaign_id": campaign["id"], "mode": "covert", "inspectors": team[:2],
        "checklist": checklist, "outcome": {"kind": "suspend", "deadline_workdays": 10}})
    order = {"id": record["order_id"]}
    print(f"    发现问题：消防安全（{checklist['fire_safety']['notes']}）→ 下达停业整顿通知，整改时限 10 个工作日")
    status = wait_until(lambda: education.get(f"/api/institutions/{iid}")["status_name"], lambda s: s == "停业整顿")
    print(f"    登记库状态：{status}；资金监管：{_charge_check(education, iid)}")
    after = education.get(f"/api/inspection/campaigns/{campaign['id']}/coverage")
    print(f"    覆盖率：{after['coverage']}%（{after['visited']}/{after['in_scope']}），"
          f"{'已全覆盖' if after['complete'] else '尚未全覆盖'}")

    step(first_step + 1, "整改到位后复查通过 → 整改流程结案，恢复正常营业")
    education.post(f"/api/inspection/orders/{order['id']}/reinspection", {"passed": True, "notes": "已拆除隔断，更换灭火器"})
    restored = wait_until(lambda: education.get(f"/api/institutions/{iid}")["status_name"], lambda s: s == "正常营业")
    closed = wait_until(lambda: education.get(f"/api/inspection/orders/{order['id']}"), lambda o: o["status"] == "closed")
    print(f"    整改单 #{order['id']}：{closed['status']}；登记库状态：{restored}")

    step(first_step + 2, "机构发布周六上午的初中数学课 → 课程表自动比对生成线索（学科类不得占用休息日）")
    education.post(f"/api/institutions/{iid}/courses", {
        "name": "初二数学周末班", "subject": "数学", "price_fen": 8000, "class_hours": 40, "mode": "offline",
        "schedule": [{"weekday": 6, "start": "09:00", "end": "10:30"}]})
    leads = wait_until(lambda: education.get("/api/inspection/leads")["items"],
                       lambda items: any(i["source"] == "course_schedule" for i in items))
    for lead in leads[:3]:
        first = (lead["evidence"].get("dates") or [{}])[0].get("date", "")
        print(f"    线索 #{lead['id']} {lead['source_name']}：{lead['reason_name']} {first}")
    return (status == "停业整顿" and restored == "正常营业" and closed["status"] == "closed"
            and any(i["source"] == "course_schedule" for i in leads))


def run_report(education: Client, first_step: int) -> bool:
    """The county's 半月报 as of today, from the read models, with its 压减率 and its inputs."""
    step(first_step, "本县半月报（截至今天）：由各部门事件累积的读模型生成，可导出 xlsx")
    report = wait_until(lambda: education.get("/api/reports/half-monthly"),
                        lambda r: r["inspections"]["records"] > 0 and r["orders"]["issued"]["suspend"] > 0)
    print(f"    统计期 {report['period_start']} 至 {report['period_end']}")
    print(f"    有证有照机构 {report['institutions_total']} 家，其中学科类 {report['institutions_academic']} 家；"
          + "，".join(f"{k} {v}" for k, v in report["status_counts"].items()))
    reduction = report["reduction"]
    print(f"    {reduction['formula']}：基数 {report['academic_baseline']}，仍正常营业 {report['academic_operating']}"
          f" → {reduction['rate_text']}")
    inspections, orders, complaints = report["inspections"], report["orders"], report["complaints"]
    print(f"    本期检查 {inspections['records']} 次（{inspections['institutions_inspected']} 家），"
          f"停业整顿 {orders['issued']['suspend']} 份，整改销号 {orders['closed']} 份；"
          f"受理举报 {complaints['received']} 件，超期 {complaints['overdue_open']} 件")
    escrow = report["escrow"]
    print(f"    资金监管：账户 {escrow['accounts_open']} 个，监管余额 {_yuan(escrow['funds_under_supervision_fen'])}，"
          f"未处置预警 {escrow['alerts_open']} 条")
    print("    导出：shuangjian report half-monthly --format xlsx")
    return report["institutions_total"] > 0 and report["reduction_rate"] is not None


# The county of the seed press release: 26 licensed, 18 学科类; of those, 5 停业整顿, 2 注销中 and 4
# 暂停营业 since the special action (dated here 2021-11-01). Outside 枞阳镇, where the demo sweeps.
SEED_ACADEMIC_STATUSES = ["停业整顿"] * 5 + ["注销中"] * 2 + ["暂停营业"] * 4 + ["正常营业"] * 7
SEED_SERIAL = 7_220_000


def seed_ledger_rows() -> list[dict]:
    rows = []
    for n in range(26):
        academic = n < len(SEED_ACADEMIC_STATUSES)
        status = SEED_ACADEMIC_STATUSES[n] if academic else "正常营业"
        township = TOWNSHIPS[1 + n % (len(TOWNSHIPS) - 1)]
        rows.append({
            "机构名称": f"枞阳县{township[1]}{'学科' if academic else '艺体'}培训学校{n + 1:02d}",
            "统一社会信用代码": make_uscc(SEED_SERIAL + n), "办学许可证号": f"教民1340722700{n + 1:02d}号",
            "发证日期": "2020-03-01", "类别": "学科类" if academic else "非学科类", "法人类型": "营利性",
            "乡镇": township[1], "地址": f"{township[1]}人民路{n + 1}号", "状态": status,
            "状态日期": "" if status == "正常营业" else "2021-11-01", "全国平台注册": "是",
        })
    return rows


def import_seed_ledger(education: Client) -> None:
    """The county's ledger through the same import as `shuangjian registry import` (idempotent)."""
    import csv

    from services.common.config import var_dir

    from .ledger_import import import_ledger

    print("    导入本县机构台账：26家有证有照，其中学科类18家（停业整顿5、注销中2、暂停营业4）")
    rows = seed_ledger_rows()
    path = var_dir() / "demo" / "枞阳县机构台账.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if import_ledger(education, str(path), progress=False) != 0:
        raise RuntimeError("演示台账导入失败")
