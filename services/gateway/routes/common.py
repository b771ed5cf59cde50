"""Limits and small helpers the route modules share."""
from __future__ import annotations

from ..api import query_int

MAX_ATTACHMENT_BYTES = 10 << 20  # case attachments; the registry refuses more with a clear error (+1 here)
MAX_IMPORT_BYTES = 16 << 20  # ledger rows and files only; every other route keeps api.MAX_BODY_BYTES
IMPORT_CHUNK_ROWS = 1000


def import_answer(result: dict, created: bool = False):
    """A rejected import is 422 with the one error shape plus every (row, column, reason)."""
    if result.get("state") == "rejected":
        error = {"code": "import_rejected", "message": result["message"], "field": None}
        return 422, {"error": error, **result}
    return (201 if created else 200), result


def int_arg(request, name: str, default: int):
    return query_int(request, name, default)  # 0…2³¹−1, else 400 naming the parameter
