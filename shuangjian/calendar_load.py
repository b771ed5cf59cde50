"""`shuangjian calendar load FILE`: send a year's holiday schedule (CSV or JSON) to the gateway."""
from __future__ import annotations

import sys
from pathlib import Path

from services.common.calendar_file import read_schedule_text
from services.common.errors import ValidationFailed
from services.common.textfiles import decode_office_text

from .client import ApiError


def load_schedule(client, path: str) -> int:
    """Exit codes: 0 loaded, 1 the file has an error (nothing stored), 2 other errors."""
    try:
        text = decode_office_text(Path(path).read_bytes())
        rows = read_schedule_text(text, path)
    except OSError as exc:
        print(f"错误：无法读取 {path}：{exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print("错误：文件编码应为 UTF-8 或 GBK", file=sys.stderr)
        return 1
    except ValidationFailed as exc:
        print(f"文件有误：{exc.message}", file=sys.stderr)
        return 1
    try:
        answer = client.post("/api/calendar/schedules", {"days": rows})
    except ApiError as exc:
        if exc.status == 400:
            print(f"文件有误，未保存：{exc}", file=sys.stderr)
            return 1
        raise
    for year in answer["loaded"]:
        print(f"{year['year']}年放假安排已导入（第{year['version']}版）：休 {year['rest_days']} 天，"
              f"调休上班 {year['work_days']} 天；进行中的期限已按新安排重算")
    return 0
