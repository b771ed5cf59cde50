"""Text files as county offices save them: UTF-8 (with or without BOM), UTF-16 or GBK (Excel's
"CSV" on a Chinese Windows)."""
from __future__ import annotations


def decode_office_text(content: bytes) -> str:
    """Raises UnicodeDecodeError when the encoding is none of these."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("gb18030")  # a superset of GBK


def fold(value: str) -> str:
    """Text compared as officials mean it: full-width forms folded (２０２１ → 2021, （ → (), every space
    (full-width, non-breaking, zero-width) dropped. Codes, dates and short names such as 枞阳 镇."""
    import re
    import unicodedata

    return re.sub(r"[\s\u200b\ufeff]+", "", unicodedata.normalize("NFKC", value))
