"""Signed, expiring login tokens (Bearer header or cookie)."""
from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.common.errors import NotAuthenticated

SESSION_SECONDS = 8 * 3600  # one working day
COOKIE_NAME = "sj_session"


class SessionTokens:
    def __init__(self, key: str, max_age: int = SESSION_SECONDS):
        self._serializer = URLSafeTimedSerializer(key, salt="shuangjian.session")
        self.max_age = max_age

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"uid": user_id})

    def read(self, token: str) -> int:
        try:
            return int(self._serializer.loads(token, max_age=self.max_age)["uid"])
        except SignatureExpired:
            raise NotAuthenticated("登录已过期，请重新登录") from None
        except (BadSignature, KeyError, TypeError, ValueError):
            raise NotAuthenticated("登录凭证无效") from None


def token_from_request(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return request.cookies.get(COOKIE_NAME)
