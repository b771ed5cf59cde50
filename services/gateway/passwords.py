"""Password hashing (argon2id) and the password rule (ASVS 4.0.3 V2.1; 等保 2.0 身份鉴别).

The rule: 12 to 128 characters, any characters (spaces and Chinese allowed, no composition
rules: ASVS 2.1.9), not the user name, not one of the passwords every guessing list starts with.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.errors import ValidationFailed

_hasher = PasswordHasher()

# Verifying against this keeps a failed login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("shuangjian-timing-equaliser")

MIN_LENGTH = 12
MAX_LENGTH = 128

# the head of the public leaked-password lists and the obvious local ones (lower-cased)
COMMON = frozenset({
    "123456789012", "1234567890123", "12345678901234", "111111111111", "000000000000", "123123123123",
    "qwertyuiopas", "qwerty123456", "password1234", "password123456", "passw0rd1234", "iloveyou1234",
    "abc123456789", "a123456789012", "1qaz2wsx3edc", "1q2w3e4r5t6y", "qazwsxedcrfv", "zxcvbnm12345",
    "admin1234567", "administrator", "admin@123456", "admin123456789", "shuangjian123", "shuangjian@123",
    "shuangjian2021", "woaini123456", "88888888888888", "666666666666", "abcdefghijkl", "aaaaaaaaaaaa",
})


def check_password_rule(password: object, field: str = "password", username: str | None = None) -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ValidationFailed(f"密码至少{MIN_LENGTH}位", field=field)
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"密码不能超过{MAX_LENGTH}位", field=field)
    if not password.strip():
        raise ValidationFailed("密码不能全为空格", field=field)
    lowered = password.lower()
    if lowered in COMMON or len(set(password)) <= 2:
        raise ValidationFailed("密码过于常见，容易被猜中，请换一个", field=field)
    if username and username.lower() in lowered:
        raise ValidationFailed("密码不能包含用户名", field=field)
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
