"""Server-side login sessions (Bearer header or cookie), and the CSRF token tied to a session.

Sessions (issue 16): the token is 32 random bytes; the gateway's database keeps only its SHA-256
(`login_sessions`), the user, when it began and when it was last used. A session ends on logout,
on a password change or user disable (every session of that user), after SESSION_IDLE_MINUTES
without a request (30) and SESSION_ABSOLUTE_HOURS after login (8) — whichever comes first. A new
token is made at every login, so a token planted before login is worth nothing after it.

CSRF: a request authenticated by the `sj_session` cookie that changes state (POST/PUT/PATCH/DELETE)
must also carry the session's CSRF token — the `X-CSRF-Token` header (the pages' fetch calls) or
the `csrf_token` form field (the pages' HTML forms). The token is derived from the session token
(`csrf_token_for`), which is in an HttpOnly cookie another site cannot read, so it cannot forge
it. A Bearer token (the CLI) is never sent by a browser on its own: those requests are exempt.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.common.clock import SystemClock
from services.common.errors import Forbidden, NotAuthenticated

from .models import LoginSession

COOKIE_NAME = "sj_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most once a minute per session


class CsrfRefused(Forbidden):
    code = "csrf_failed"


def _setting(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def secure_cookies() -> bool:
    """Cookies carry `Secure` when the gateway is served over TLS (SHUANGJIAN_SECURE_COOKIES=1;
    on in the k8s overlay). Off by default: `make up` serves plain HTTP on 127.0.0.1."""
    return os.environ.get("SHUANGJIAN_SECURE_COOKIES", "").strip().lower() in ("1", "true", "yes", "on")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    """Issue, check, touch and end sessions in the gateway's database."""

    def __init__(self, idle: timedelta | None = None, absolute: timedelta | None = None, clock=None):
        self.idle = idle or timedelta(minutes=_setting("SHUANGJIAN_SESSION_IDLE_MINUTES", 30))
        self.absolute = absolute or timedelta(hours=_setting("SHUANGJIAN_SESSION_ABSOLUTE_HOURS", 8))
        self.clock = clock or SystemClock()

    @property
    def max_age(self) -> int:
        """The cookie's lifetime: the absolute timeout (the server ends it earlier when idle)."""
        return int(self.absolute.total_seconds())

    def issue(self, db: Session, user_id: int, client: str | None = None) -> str:
        """A new session (committed) and its token — the only place the token exists in clear."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        db.add(LoginSession(id=token_digest(token), user_id=user_id, created_at=now, last_seen_at=now,
                            client=(client or "")[:64] or None))
        db.commit()
        return token

    def expires_at(self, row: LoginSession) -> datetime:
        return min(row.last_seen_at + self.idle, row.created_at + self.absolute)

    def read(self, db: Session, token: str) -> LoginSession:
        """The live session of `token` (its last use recorded), else NotAuthenticated."""
        if not isinstance(token, str) or not 20 <= len(token) <= 200:
            raise NotAuthenticated("登录凭证无效")
        row = db.get(LoginSession, token_digest(token))
        if row is None:
            raise NotAuthenticated("登录凭证无效")
        if row.revoked_at is not None:
            raise NotAuthenticated(self._ended_message(row.revoked_reason))
        now = self.clock.now()
        for reason, end in (("absolute_timeout", row.created_at + self.absolute),
                            ("idle_timeout", row.last_seen_at + self.idle)):
            if now >= end:
                self._end(db, row, now, reason)  # ended for good: setting a clock back revives nothing
                raise NotAuthenticated(self._ended_message(reason))
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            db.commit()
        return row

    def _ended_message(self, reason: str | None) -> str:
        if reason == "absolute_timeout":
            return "登录已过期，请重新登录"
        if reason == "idle_timeout":
            return f"超过{int(self.idle.total_seconds() // 60)}分钟未操作，登录已过期，请重新登录"
        return "登录已失效，请重新登录"

    def revoke(self, db: Session, token: str | None, reason: str = "logout") -> None:
        if not token:
            return
        row = db.get(LoginSession, token_digest(token))
        if row is not None and row.revoked_at is None:
            self._end(db, row, self.clock.now(), reason)

    def revoke_user(self, db: Session, user_id: int, reason: str) -> int:
        """End every live session of a user, in the caller's transaction (not committed here)."""
        result = db.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
            .values(revoked_at=self.clock.now(), revoked_reason=reason)
        )
        return result.rowcount or 0

    def live_count(self, db: Session, user_id: int) -> int:
        rows = db.scalars(select(LoginSession).where(LoginSession.user_id == user_id,
                                                     LoginSession.revoked_at.is_(None))).all()
        now = self.clock.now()
        return sum(1 for r in rows if now < self.expires_at(r))

    @staticmethod
    def _end(db: Session, row: LoginSession, now: datetime, reason: str) -> None:
        row.revoked_at, row.revoked_reason = now, reason
        db.commit()


def set_session_cookie(response, token: str, max_age: int) -> None:
    response.set_cookie(COOKIE_NAME, token, max_age=max_age, httponly=True, samesite="Strict", path="/",
                        secure=secure_cookies())


def clear_session_cookie(response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict", secure=secure_cookies())


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
