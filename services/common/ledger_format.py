"""The county ledger (台账) as a file: its headers and the spellings counties give them.

Shared by the CLI (which reads the file and uploads rows) and the registry (which checks them), so
both agree on which column is which. A header is matched after `normalize_header` (full-width
forms folded, spaces, `*` marks and a trailing note in brackets dropped) against HEADER_VARIANTS;
columns matching nothing (序号, 备注, 联系电话…) are ignored and listed, never errors.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .row_error import RowError

# header -> field of the institution record (every one is required)
HEADERS: dict[str, str] = {
    "机构名称": "name",
    "统一社会信用代码": "uscc",
    "办学许可证号": "licence_no",
    "发证日期": "licence_issued_on",
    "类别": "category",
    "法人类型": "legal_form",
    "乡镇": "township",
    "地址": "address",
    "状态": "status",
    "状态日期": "status_on",
    "全国平台注册": "platform_registered",
}

# other spellings seen in county ledgers, matched after normalize_header (README documents this table)
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "机构名称": ("培训机构名称", "机构全称", "单位名称", "学校名称"),
    "统一社会信用代码": ("社会信用代码", "统一信用代码", "信用代码", "统一社会信用代码证号"),
    "办学许可证号": ("办学许可证编号", "办学许可证", "许可证号", "许可证编号"),
    "发证日期": ("许可证发证日期", "办学许可证发证日期", "发证时间"),
    "类别": ("机构类别", "培训类别"),
    "法人类型": ("法人性质", "机构性质", "营利性质"),
    "乡镇": ("所属乡镇", "所在乡镇", "乡镇街道", "乡镇/街道"),
    "地址": ("机构地址", "办学地址", "详细地址", "培训地址"),
    "状态": ("机构状态", "经营状态", "办学状态"),
    "状态日期": ("状态变更日期", "状态起始日期"),
    "全国平台注册": ("是否全国平台注册", "是否在全国平台注册", "全国监管平台注册"),
}
INDEX_HEADER = "序号"
EXAMPLE_MARK = "示例"  # a row whose 序号 says 示例 is the template's example: skipped
# a row under the table holding only sign-off lines (填表人：张三  审核人：李四) is skipped, not an error
FOOTER_WORDS = ("填表人", "填报人", "制表人", "审核人", "审核", "负责人", "联系人", "联系电话", "填表日期", "填报日期",
                "填报单位", "单位盖章", "合计", "总计", "说明", "注")
MAX_HEADER_SCAN = 20  # title and blank rows above the header: at most this many
MIN_HEADER_MATCHES = 3  # a row naming this many headers is the header row

_MARKS = "*※★"
_NOTE = re.compile(r"\([^()]*\)$")


def normalize_header(raw: object) -> str:
    """`统一社会信用代码（18位）`, `机构名称*`, ` 乡镇 ` → the bare header."""
    text = unicodedata.normalize("NFKC", "" if raw is None else str(raw))  # （）＊ → ()*
    header = re.sub(r"\s+", "", text).strip(_MARKS + ":")
    while True:
        bare = _NOTE.sub("", header).strip(_MARKS + ":")
        if bare == header or not bare:
            return header if not bare else bare
        header = bare


_CANONICAL = {normalize_header(v): h for h, variants in HEADER_VARIANTS.items() for v in (h, *variants)}


@lru_cache(maxsize=4096)  # every cell's key goes through here: a 10,000-row ledger has a few dozen headers
def canonical_header(raw: object) -> str | None:
    """The ledger header a file's header names, or None for a column the import does not use."""
    return _CANONICAL.get(normalize_header(raw))


@dataclass
class HeaderRow:
    columns: dict[int, str]  # column index -> ledger header
    ignored: list[str]  # headers of columns the import does not use, as written (normalised)
    errors: list[RowError]


def read_header_row(headers: Iterable[object], row: int = 1) -> HeaderRow:
    """Which column holds which header; a header given twice or a missing one is an error."""
    columns: dict[int, str] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    first: dict[str, str] = {}
    for index, raw in enumerate(headers):
        written = normalize_header(raw)
        header = canonical_header(raw)
        if header is None:
            if written:
                ignored.append(written)
            continue
        if header in first:
            same = f"“{written}”与“{first[header]}”" if written != first[header] else f"“{written}”"
            errors.append(RowError(row, header, f"表头{same}重复（都是“{header}”列）"))
            continue
        first[header] = written
        columns[index] = header
    for header in HEADERS:
        if header not in first:
            hint = f"（未识别的列：{'、'.join(ignored)}）" if ignored else ""
            errors.append(RowError(row, header, f"缺少必需的表头“{header}”{hint}"))
    return HeaderRow(columns, ignored, errors)


def check_headers(headers: Iterable[object], row: int = 1) -> list[RowError]:
    return read_header_row(headers, row).errors


def header_matches(cells: Iterable[object]) -> int:
    return len({h for h in map(canonical_header, cells) if h})


_FOOTER = re.compile(rf"^(?:{'|'.join(FOOTER_WORDS)})[(:（：]")


def is_footer(text: str) -> bool:
    """`填表人：张三`, `注：本表截至…`, `合计：26家` — a sign-off or note line, not a record."""
    return bool(_FOOTER.match(re.sub(r"\s+", "", text)))
