"""`shuangjian` — the platform's command line.

Commands that act on the running platform talk to the gateway's API. On the platform's own
machine they log in as the built-in administrator from var/secrets.json; elsewhere pass
--url with --user/--password or --token (or SHUANGJIAN_TOKEN).
"""
from __future__ import annotations

import argparse
import subprocess
import sys

from .client import ApiError, connect, dumps


def _add_remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="网关地址（默认 http://127.0.0.1:8000 或 SHUANGJIAN_GATEWAY_URL）")
    parser.add_argument("--user", help="用户名（远程使用）")
    parser.add_argument("--password", help="密码（不给则提示输入，或取 SHUANGJIAN_PASSWORD）")
    parser.add_argument("--token", help="登录令牌（shuangjian login 输出）")


def _client(args):
    return connect(args.url, args.user, args.password, args.token)


def cmd_dev(args) -> int:
    from . import localrun

    if args.action == "generate":  # a batch job on reporting's database, run as its own process
        return subprocess.call([sys.executable, "-m", "services.reporting.synthetic", *args.options])
    if args.options:
        print(f"dev {args.action} 不接受参数：{' '.join(args.options)}", file=sys.stderr)
        return 2
    if args.action == "up":
        localrun.up()
    elif args.action == "down":
        stopped = localrun.down()
        print("已停止：" + ("、".join(stopped) if stopped else "（没有运行中的进程）"))
    else:
        for name, info in localrun.status().items():
            print(f"{name:<11} pid={info['pid']} {'运行中' if info['running'] else '已停止'}")
        report = localrun.health()
        if report:
            localrun.print_health(report)
    return 0


def cmd_health(args) -> int:
    from .client import Client

    client = Client(args.url)
    try:
        report = client.get("/health")
    except ApiError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(dumps(report))
    return 0 if report["status"] == "ok" else 1


def cmd_login(args) -> int:
    client = _client(args)
    print(client.token)
    return 0


def cmd_user_create(args) -> int:
    client = _client(args)
    password = args.password_new
    if password is None:
        import getpass

        password = getpass.getpass(f"为 {args.username} 设置密码：")
    body = {
        "username": args.username,
        "password": password,
        "display_name": args.display_name or args.username,
        "department_id": args.department_id,
        "roles": [r.strip() for r in args.roles.split(",") if r.strip()],
    }
    print(dumps(client.post("/api/users", body)))
    return 0


def cmd_user_list(args) -> int:
    for user in _client(args).get("/api/users")["items"]:
        dept = user["department"]
        print(f"{user['id']:>4} {user['username']:<16} {user['display_name']:<10} "
              f"{dept['name']}（{dept['division_code']}） {','.join(user['roles'])}")
    return 0


def cmd_division_add(args) -> int:
    print(dumps(_client(args).post("/api/divisions", {"code": args.code, "name": args.name})))
    return 0


def cmd_division_rename(args) -> int:
    print(dumps(_client(args).request("PUT", f"/api/divisions/{args.code}", {"name": args.name})))
    return 0


def cmd_department_add(args) -> int:
    body = {"division_code": args.division, "kind": args.kind, "name": args.name}
    print(dumps(_client(args).post("/api/departments", body)))
    return 0


def cmd_department_list(args) -> int:
    for dept in _client(args).get("/api/departments")["items"]:
        print(f"{dept['id']:>4} {dept['division_code']:<10} {dept['kind']:<20} {dept['name']}")
    return 0


def cmd_registry_import(args) -> int:
    from .ledger_import import import_ledger

    return import_ledger(_client(args), args.file, progress=not args.no_progress)


def cmd_registry_template(args) -> int:
    from .ledger_import import template

    return template(_client(args), args.output)


def cmd_escrow_import_statement(args) -> int:
    from .statement_import import import_statement

    return import_statement(_client(args), args.file, progress=not args.no_progress)


def cmd_calendar_load(args) -> int:
    from .calendar_load import load_schedule

    return load_schedule(_client(args), args.file)


def cmd_calendar_show(args) -> int:
    print(dumps(_client(args).get("/api/calendar", year=args.year)))
    return 0


def cmd_report(args) -> int:
    from . import reports

    if args.action == "submit":
        return reports.submit(_client(args), args.kind, args.as_of, args.division, args.note)
    if args.action == "list":
        return reports.list_cycles(_client(args), args.division)
    client = _client(args)
    if args.wait is not None and not reports.wait_for_read_model(client, args.wait):
        status = reports.fetch_report(client, args.action, args.as_of, args.division, args.format, args.output)
        return status or 1  # printed, but not known to hold everything: a script must not take it as final
    return reports.fetch_report(client, args.action, args.as_of, args.division, args.format, args.output)


def cmd_audit_verify(args) -> int:
    from .audit import verify

    return verify(_client(args))


def cmd_audit_anchor(args) -> int:
    from .audit import anchor

    return anchor(_client(args))


def cmd_dlq(args) -> int:
    from . import dlq

    if args.action == "list":
        return dlq.list_command(args.amqp, args.queue, args.json)
    return dlq.replay_command(args.amqp, args.queue, args.id, args.all)


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(_client(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shuangjian", description="县级“双减”校外培训监管平台")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="本机运行：up / down / status；generate 合成全省报表数据")
    dev.add_argument("action", choices=["up", "down", "status", "generate"])
    dev.add_argument("options", nargs=argparse.REMAINDER,
                     help="generate 的参数（shuangjian dev generate --help 列出）")
    dev.set_defaults(func=cmd_dev)

    health = sub.add_parser("health", help="各组件健康状况")
    health.add_argument("--url")
    health.set_defaults(func=cmd_health)

    login = sub.add_parser("login", help="登录并输出令牌（供 --token 使用）")
    _add_remote_options(login)
    login.set_defaults(func=cmd_login)

    user = sub.add_parser("user", help="用户管理").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="创建用户")
    create.add_argument("username")
    create.add_argument("--department-id", type=int, required=True, help="部门编号（shuangjian department list）")
    create.add_argument("--roles", default="clerk", help="角色，逗号分隔：clerk,leader,admin")
    create.add_argument("--display-name")
    create.add_argument("--new-password", dest="password_new", help="新用户的密码（不给则提示输入）")
    _add_remote_options(create)
    create.set_defaults(func=cmd_user_create)
    users = user.add_parser("list", help="列出用户")
    _add_remote_options(users)
    users.set_defaults(func=cmd_user_list)

    division = sub.add_parser("division", help="行政区划").add_subparsers(dest="action", required=True)
    add = division.add_parser("add", help="新增下级区划")
    add.add_argument("code")
    add.add_argument("name")
    _add_remote_options(add)
    add.set_defaults(func=cmd_division_add)
    rename = division.add_parser("rename", help="修改区划名称（同一上级下不能重名）")
    rename.add_argument("code")
    rename.add_argument("name")
    _add_remote_options(rename)
    rename.set_defaults(func=cmd_division_rename)

    department = sub.add_parser("department", help="部门").add_subparsers(dest="action", required=True)
    dadd = department.add_parser("add", help="新增部门")
    dadd.add_argument("--division", required=True)
    dadd.add_argument("--kind", required=True,
                      help="education/civil_affairs/market_regulation/public_security/"
                           "urban_management/township/supervision_office/ops")
    dadd.add_argument("--name")
    _add_remote_options(dadd)
    dadd.set_defaults(func=cmd_department_add)
    dlist = department.add_parser("list", help="列出部门")
    _add_remote_options(dlist)
    dlist.set_defaults(func=cmd_department_list)

    registry = sub.add_parser("registry", help="机构登记库").add_subparsers(dest="action", required=True)
    rimport = registry.add_parser(
        "import", help="导入台账（.csv 或 .xlsx）：全部成功才保存；重复导入不会重复登记",
        description="表头（任意列序，表头之上的标题行和序号、备注等列不影响导入）：机构名称、统一社会信用代码、"
                    "办学许可证号、发证日期、类别、法人类型、乡镇、地址、状态、状态日期、全国平台注册。"
                    "模板：shuangjian registry template。退出码：0 成功，1 台账有错（未保存任何记录），2 其他错误。",
    )
    rimport.add_argument("file", help="台账文件 .csv（UTF-8 或 GBK）或 .xlsx")
    rimport.add_argument("--no-progress", action="store_true", help="不显示进度条")
    _add_remote_options(rimport)
    rimport.set_defaults(func=cmd_registry_import)
    rtemplate = registry.add_parser("template", help="下载台账模板（.xlsx，含下拉列表和本县乡镇）")
    rtemplate.add_argument("-o", "--output", help="保存为（默认 台账模板.xlsx）")
    _add_remote_options(rtemplate)
    rtemplate.set_defaults(func=cmd_registry_template)

    escrow = sub.add_parser("escrow", help="预收费资金监管").add_subparsers(dest="action", required=True)
    statement = escrow.add_parser(
        "import-statement", help="导入银行对账单（.csv）：逐笔入账，重复的交易不会重复入账",
        description="表头（任意列序）：银行代码、交易流水号、监管账号、交易类型（收款/划转/退款）、"
                    "金额（元）或金额（分）、交易时间（无时区按北京时间）、合同编号（可选）。"
                    "有误的行被拒收并列出行号与原因，其余照常入账。退出码：0 全部入账（或此前已入账），"
                    "1 有行被拒收，2 其他错误。",
    )
    statement.add_argument("file", help="对账单 .csv（UTF-8 或 GBK）")
    statement.add_argument("--no-progress", action="store_true", help="不显示进度条")
    _add_remote_options(statement)
    statement.set_defaults(func=cmd_escrow_import_statement)

    from .reports import WAIT_SECONDS

    report = sub.add_parser("report", help="报表：半月报、周报、报送").add_subparsers(dest="action", required=True)
    for which, title in (("half-monthly", "半月报"), ("weekly", "周报（周五至周四）")):
        one = report.add_parser(which, help=f"{title}：截至某日的统计，JSON 或导出 xlsx / csv")
        one.add_argument("--as-of", help="统计截至日 YYYY-MM-DD（默认今天）")
        one.add_argument("--division", help="行政区划代码（默认整个部署；市、省级为汇总）")
        one.add_argument("--format", choices=("json", "xlsx", "csv"), default="json")
        one.add_argument("--output", "-o", help="输出文件（xlsx/csv 默认用报表名）")
        one.add_argument("--wait", nargs="?", type=float, const=WAIT_SECONDS, default=None,
                         metavar="SECONDS", help="先等报表计入命令开始前已提交的全部变更（默认最多等 "
                                                  f"{WAIT_SECONDS:g} 秒）")
        _add_remote_options(one)
        one.set_defaults(func=cmd_report)
    rsubmit = report.add_parser("submit", help="报送（冻结）某期报表；再次报送为更正版本，须说明原因")
    rsubmit.add_argument("kind", choices=("half-monthly", "weekly"))
    rsubmit.add_argument("--as-of", required=True, help="统计期末：半月报为15日或月末，周报为星期四")
    rsubmit.add_argument("--division", help="县级行政区划代码（默认本人所在县）")
    rsubmit.add_argument("--note", help="说明（更正时必填）")
    _add_remote_options(rsubmit)
    rsubmit.set_defaults(func=cmd_report)
    rlist = report.add_parser("list", help="应报报表及报送状态（逾期在前）")
    rlist.add_argument("--division", help="行政区划代码")
    _add_remote_options(rlist)
    rlist.set_defaults(func=cmd_report)

    audit = sub.add_parser("audit", help="审计日志（哈希链）").add_subparsers(dest="action", required=True)
    averify = audit.add_parser("verify", help="校验各服务的审计链并对照锚点：有条目被改动或删除则退出码为1")
    _add_remote_options(averify)
    averify.set_defaults(func=cmd_audit_verify)
    aanchor = audit.add_parser("anchor", help="立即把各审计链的链头写入锚点文件（网关也按计划每10分钟写一次）")
    _add_remote_options(aanchor)
    aanchor.set_defaults(func=cmd_audit_anchor)

    dlq = sub.add_parser("dlq", help="死信队列：列出、修复原因后重放（直接连消息中间件，在平台本机运行）")
    dlq_actions = dlq.add_subparsers(dest="action", required=True)
    dlist = dlq_actions.add_parser("list", help="各死信队列的消息：原因、事件类型、事件编号、时间")
    dlist.add_argument("--queue", help="只看一个队列：registry / escrow / inspection / reporting / workflows / escrow.bank_feed.dlq")
    dlist.add_argument("--json", action="store_true", help="输出 JSON")
    dreplay = dlq_actions.add_parser("replay", help="把死信重新发布到原交换机和路由键（先修复原因）")
    dreplay.add_argument("--queue", help="只处理一个队列")
    which = dreplay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="事件编号（event_id；银行流水为批次号）")
    which.add_argument("--all", action="store_true", help="队列中的全部死信")
    for p_ in (dlist, dreplay):
        p_.add_argument("--amqp", help="消息中间件地址（默认 SHUANGJIAN_AMQP_URI 或本机）")
        p_.set_defaults(func=cmd_dlq)

    demo = sub.add_parser("demo", help="载入演示县并演示主流程")
    _add_remote_options(demo)
    demo.set_defaults(func=cmd_demo)
    calendar = sub.add_parser("calendar", help="工作日历：导入国务院放假安排").add_subparsers(dest="action", required=True)
    cload = calendar.add_parser(
        "load", help="导入某年的放假安排（.csv 或 .json），整年替换并重算进行中的期限",
        description="CSV 表头 date,kind,name（或 日期,类型,名称），每行一天：kind 为 休（放假）或 班（周末调休上班）。"
                    "JSON：[{\"date\": \"2027-01-01\", \"kind\": \"休\", \"name\": \"元旦\"}, …]。"
                    "退出码：0 成功，1 文件有误（未保存），2 其他错误。",
    )
    cload.add_argument("file", help="放假安排 .csv（UTF-8 或 GBK）或 .json")
    _add_remote_options(cload)
    cload.set_defaults(func=cmd_calendar_load)
    cshow = calendar.add_parser("show", help="某年的放假与调休（及其来源：已导入、内置或推算）")
    cshow.add_argument("year", type=int)
    _add_remote_options(cshow)
    cshow.set_defaults(func=cmd_calendar_show)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ApiError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
