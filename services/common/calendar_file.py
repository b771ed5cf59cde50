"""The schedule file a county loads (国务院办公厅关于某年部分节假日安排的通知, one row per date).

CSV with the header `date,kind,name` (or 日期,类型,名称), or JSON: a list of {date, kind, name}
or {"days": [...]}. kind is 休 (a day off) or 班 (a make-up working day on a weekend). Shared by
the CLI (which reads the file and sends the rows) and the registry (which checks them again).
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date

from .errors import ValidationFailed
from .workcalendar import REST, WORK, ScheduleDay, statutory_holidays

HEADERS = {"date": "date", "日期": "date", "kind": "kind", "类型": "kind", "name": "name", "名称": "name"}
KINDS = {REST: REST, WORK: WORK, "rest": REST, "work": WORK}
MAX_ROWS = 400
NAME_MAX = 40


def read_schedule_text(text: str, filename: str = "") -> list[dict]:
    """Rows {date, kind, name} from a CSV or JSON text (by extension, else by the first character)."""
    stripped = text.lstrip("\ufeff \r\n\t")
    if filename.lower().endswith(".json") or stripped[:1] in ("[", "{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"JSON 格式有误（第{exc.lineno}行）：{exc.msg}", field="file") from None
        rows = data.get("days") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ValidationFailed("JSON 应为日期列表，或 {\"days\": [...]}", field="file")
        return rows
    reader = csv.reader(io.StringIO(stripped))
    header = next(reader, None)
    columns = [HEADERS.get((h or "").strip().lower()) for h in (header or [])]
    if not header or {"date", "kind"} - set(columns):
        raise ValidationFailed("CSV 第1行应为表头 date,kind,name（或 日期,类型,名称）", field="file")
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        rows.append({col: cell.strip() for col, cell in zip(columns, cells) if col})
    return rows


def parse_schedule(rows: object) -> dict[int, list[ScheduleDay]]:
    """Checked schedule days by year. Each loaded year must list its statutory holidays as 休 (a
    notice that forgot 春节 would move every deadline early), and 班 only on a weekend."""
    if not isinstance(rows, list) or not rows:
        raise ValidationFailed("放假安排为空：至少应有一行", field="days")
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"一次最多导入{MAX_ROWS}行", field="days")
    by_year: dict[int, dict[date, ScheduleDay]] = {}
    for number, row in enumerate(rows, start=1):
        where = f"第{number}行"
        if not isinstance(row, dict):
            raise ValidationFailed(f"{where}：应为 {{date, kind, name}}", field=f"days[{number}]")
        try:
            day = date.fromisoformat(str(row.get("date", "")).strip())
        except ValueError:
            raise ValidationFailed(f"{where}：日期“{row.get('date', '')}”应为 YYYY-MM-DD", field=f"days[{number}].date") from None
        kind = KINDS.get(str(row.get("kind", "")).strip().lower())
        if kind is None:
            raise ValidationFailed(f"{where}：类型“{row.get('kind', '')}”应为 休 或 班", field=f"days[{number}].kind")
        name = str(row.get("name") or "").strip()
        if len(name) > NAME_MAX:
            raise ValidationFailed(f"{where}：名称不超过{NAME_MAX}字", field=f"days[{number}].name")
        if kind == WORK and day.weekday() < 5:
            raise ValidationFailed(f"{where}：{day} 是周一至周五，本就是工作日，不能列为“班”（调休上班）",
                                   field=f"days[{number}].kind")
        if not 2000 <= day.year <= 2099:
            raise ValidationFailed(f"{where}：年份应在2000到2099之间", field=f"days[{number}].date")
        year = by_year.setdefault(day.year, {})
        if day in year:
            raise ValidationFailed(f"{where}：{day} 重复出现", field=f"days[{number}].date")
        year[day] = ScheduleDay(day, kind, name)
    for year, days in by_year.items():
        if year < 2025:
            continue  # the 2024 revision (除夕 a holiday, 劳动节 two days) applies from 2025 on
        for day, name in statutory_holidays(year):
            entry = days.get(day)
            if entry is None or entry.kind != REST:
                raise ValidationFailed(f"{year}年的放假安排缺少法定节假日 {day}（{name}），请按国务院通知逐日列出",
                                       field="days")
    return {year: sorted(days.values(), key=lambda d: d.day) for year, days in sorted(by_year.items())}
