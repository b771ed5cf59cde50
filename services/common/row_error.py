"""A row of an office's file that cannot be used: which row (the file's own numbering, the header
is row 1), which column (as the office wrote it), and why, in Chinese. Ledgers and bank statements
report their rows with it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RowError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        return f"第{self.row}行  {self.column or '-'}  {self.reason}"
