"""DomainError ⇄ Temporal ApplicationError, so a rejection keeps its class across Temporal.

Workflow validators and activities raise `application_error(exc)`: the ApplicationError's
`type` is the DomainError class name (Forbidden, ValidationFailed, …), its message the Chinese
text and its first detail the field. The RPC endpoint turns it back with `domain_error(...)`,
and nameko's serialisation carries the class on to the caller (403 vs 400 at the gateway).

Pure module: safe to import in the workflow sandbox (through `imports_passed_through`).
"""
from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from services.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    Unavailable,
    ValidationFailed,
)

DOMAIN_ERRORS: dict[str, type[DomainError]] = {
    cls.__name__: cls
    for cls in (ValidationFailed, NotAuthenticated, Forbidden, NotFound, Conflict, Unavailable)
}

# Retrying cannot change these answers; Unavailable is the one domain error worth retrying.
NON_RETRYABLE_TYPES = tuple(name for name in DOMAIN_ERRORS if name != "Unavailable")


def application_error(exc: DomainError) -> ApplicationError:
    name = type(exc).__name__ if type(exc).__name__ in DOMAIN_ERRORS else "ValidationFailed"
    return ApplicationError(
        exc.message,
        exc.field,
        type=name,
        non_retryable=name in NON_RETRYABLE_TYPES,
    )


def domain_error(err: BaseException | None) -> DomainError | None:
    """The DomainError an ApplicationError (or its cause chain) stands for, else None."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, ApplicationError) and err.type in DOMAIN_ERRORS:
            details = list(err.details or ())
            field = details[0] if details and isinstance(details[0], str) else None
            return DOMAIN_ERRORS[err.type](err.message, field=field)
        err = err.__cause__ if err.__cause__ is not None else getattr(err, "cause", None)
        seen += 1
    return None


# For activities that tell a service what a workflow decided: keep trying while RabbitMQ or the
# service is down (the decision stands), stop at once when the service answers with a refusal.
KEEP_TELLING = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=0,
    non_retryable_error_types=list(NON_RETRYABLE_TYPES),
)
