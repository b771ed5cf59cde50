"""The 运维 page: health, each process's queue depths, workflow counts and recent error lines."""
from __future__ import annotations

import requests

from tests.e2e.support import admin_client


def test_the_ops_page_shows_queues_workflows_and_errors(platform):
    admin = admin_client(platform)  # the built-in administrator belongs to 运维
    page = requests.get(platform["url"] + "/ui/ops", cookies={"sj_session": admin.token}, timeout=60)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    html = page.text
    for heading in ("组件健康", "队列深度", "流程数量", "近期错误"):
        assert heading in html
    queues = html.split("队列深度", 1)[1].split("流程数量", 1)[0]
    assert "rpc-registry" in queues and "银行流水" in queues  # each process lists its own queues
    assert "LicenceVerification" in html and "ReportDeadline" in html  # counted by the worker


def test_only_ops_reads_the_status_of_a_service(platform):
    from tests.e2e.support import as_user
    from shuangjian.demo import load_demo_county

    load_demo_county(admin_client(platform))
    education = as_user(platform, "jiaoti_leader")
    page = requests.get(platform["url"] + "/ui/ops", cookies={"sj_session": education.token},
                        timeout=60)
    assert "队列深度" in page.text and "rpc-registry" not in page.text  # health only
