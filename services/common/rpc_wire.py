"""The request side of nameko's RPC wire format, for the processes that serve `<name>.<method>`
without nameko (the workflows process, the escrow bank feed)."""
from __future__ import annotations

import inspect
import json
from typing import Callable

from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound


def resolve_call(methods: dict[str, Callable], method: str, body: object) -> tuple[Callable, list, dict]:
    """(function, args, kwargs) for a request body, or nameko's own errors for the caller."""
    try:
        payload = json.loads(body) if isinstance(body, (bytes, str)) else body
        args, kwargs = payload["args"], payload["kwargs"]
    except Exception:
        raise MalformedRequest("Message missing `args` or `kwargs`") from None
    function = methods.get(method)
    if function is None:
        raise MethodNotFound(method)
    try:
        inspect.signature(function).bind(*args, **kwargs)
    except TypeError as exc:
        raise IncorrectSignature(str(exc)) from None
    return function, args, kwargs
