"""Errors every service raises and the gateway maps to HTTP codes.

Registered with nameko's `deserialize_to_instance`, so a caller of an RPC gets the same
class back with its `field` and `row`, not a bare RemoteError.
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    """Base: `message` is Chinese text fit for an official; `field`/`row` say where."""

    code = "error"  # the HTTP status is the gateway's to choose: ERROR_TABLE in services/gateway/api.py

    def __init__(self, message: str, field: str | None = None, row: int | None = None):
        # nameko serialises exception args with str(), so None arrives as "None" and 7 as "7"
        field = None if field in (None, "None") else field
        row = None if row in (None, "None") else int(row)
        super().__init__(message, field, row)
        self.message = message
        self.field = field
        self.row = row

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.field:
            where.append(f"字段 {self.field}")
        return f"{'，'.join(where)}：{self.message}" if where else self.message

    def as_dict(self) -> dict:
        out = {"code": self.code, "message": self.message, "field": self.field}
        if self.row is not None:
            out["row"] = self.row
        return out


@deserialize_to_instance
class ValidationFailed(DomainError):
    code = "validation_failed"


@deserialize_to_instance
class NotAuthenticated(DomainError):
    code = "not_authenticated"


@deserialize_to_instance
class Forbidden(DomainError):
    code = "forbidden"


@deserialize_to_instance
class NotFound(DomainError):
    code = "not_found"


@deserialize_to_instance
class Conflict(DomainError):
    code = "conflict"


@deserialize_to_instance
class Unavailable(DomainError):
    code = "unavailable"
