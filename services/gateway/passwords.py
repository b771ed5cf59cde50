"""Password hashing (argon2id) and the minimum password rule."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.errors import ValidationFailed

_hasher = PasswordHasher()

# Verifying against this keeps a failed login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("shuangjian-timing-equaliser")


def check_password_rule(password: object, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise ValidationFailed("密码至少8位", field=field)
    if len(password) > 128:
        raise ValidationFailed("密码不能超过128位", field=field)
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
