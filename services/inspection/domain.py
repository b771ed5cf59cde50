"""Inspection rules on plain data."""
from __future__ import annotations

RISK_GRADES = ("A", "B", "C", "D")  # A lowest risk … D highest (双随机 samples 5/10/20/40%)


def initial_risk_grade(category: str) -> str:
    """A new 学科类 institution starts at C (watched more), others at B, until inspected."""
    return "C" if category == "academic" else "B"
