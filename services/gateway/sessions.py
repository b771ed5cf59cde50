"""Signed, expiring login tokens (Bearer header or cookie), and the CSRF token tied to a session.

CSRF: a request authenticated by the `sj_session` cookie that changes state (POST/PUT/PATCH/DELETE)
must also carry the session's CSRF token — the `X-CSRF-Token` header (the pages' fetch calls) or
the `csrf_token` form field (the pages' HTML forms). The token is derived from the session token
(`csrf_token_for`), which is in an HttpOnly cookie another site cannot read, so it cannot forge
it. A Bearer token (the CLI) is never sent by a browser on its own: those requests are exempt.
"""
from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.common.errors import Forbidden, NotAuthenticated

SESSION_SECONDS = 8 * 3600  # one working day
COOKIE_NAME = "sj_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Forbidden):
    code = "csrf_failed"


class SessionTokens:
    def __init__(self, key: str, max_age: int = SESSION_SECONDS):
        self._serializer = URLSafeTimedSerializer(key, salt="shuangjian.session")
        self.max_age = max_age

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"uid": user_id})

    def read(self, token: str) -> int:
        return self.read_with_time(token)[0]

    def read_with_time(self, token: str):
        """(user id, issued at as an aware datetime); the session ends `max_age` after issue."""
        try:
            data, issued = self._serializer.loads(token, max_age=self.max_age, return_timestamp=True)
            return int(data["uid"]), issued
        except SignatureExpired:
            raise NotAuthenticated("登录已过期，请重新登录") from None
        except (BadSignature, KeyError, TypeError, ValueError):
            raise NotAuthenticated("登录凭证无效") from None


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of one session: a hash of the (secret, HttpOnly) session token."""
    return hashlib.sha256(b"shuangjian.csrf:" + session_token.encode()).hexdigest()[:40]


def csrf_matches(session_token: str | None, presented: str | None) -> bool:
    if not session_token or not presented:
        return False
    return hmac.compare_digest(csrf_token_for(session_token), presented)


def presented_csrf(request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get(CSRF_FIELD)
    return None


def check_csrf(request, session_token: str) -> None:
    if request.method in SAFE_METHODS:
        return
    if not csrf_matches(session_token, presented_csrf(request)):
        raise CsrfRefused("请求缺少有效的 CSRF 令牌，请刷新页面后重试", field=CSRF_FIELD)


def token_from_request(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    token = request.cookies.get(COOKIE_NAME)
    if token:
        check_csrf(request, token)  # the cookie rides along on any request: state changes need the token
    return token
