"""Limits and small helpers the route modules share."""
from __future__ import annotations

import base64
from urllib.parse import quote

from werkzeug.wrappers import Response

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


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_answer(answer: dict, mimetype: str = XLSX) -> Response:
    """A service's {file_name, content_b64} as a download under its Chinese file name."""
    return Response(base64.b64decode(answer["content_b64"]), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(answer['file_name'])}"})
