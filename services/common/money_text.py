"""Money as officials read it: integer fen shown as yuan, by integer arithmetic only (no float
ever touches an amount). Shared by the escrow service, the gateway's pages and the CLI."""
from __future__ import annotations


def yuan(fen: int, grouping: bool = False) -> str:
    """12345 → "123.45"; with `grouping`, 123456789 → "1,234,567.89"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouping else f"{sign}{whole}.{cents:02d}"
