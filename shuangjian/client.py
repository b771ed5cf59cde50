"""HTTP client of the gateway API, used by the CLI and the demo (no nameko, no temporalio)."""
from __future__ import annotations

import json
import os
import time

from urllib.parse import unquote

import requests

from services.common.config import gateway_url, secrets_file, store_admin_password


class ApiError(Exception):
    def __init__(self, status: int, error: dict, payload: dict | None = None):
        self.status = status
        self.error = error
        self.payload = payload or {}  # the whole answer (e.g. a rejected import's row errors)
        where = f"（字段 {error['field']}）" if error.get("field") else ""
        super().__init__(f"HTTP {status} {error.get('code')}: {error.get('message')}{where}")


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30):
        self.url = (url or gateway_url()).rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()

    def request(self, method: str, path: str, body: object = None, params: dict | None = None,
                timeout: float | None = None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.request(
            method, self.url + path, json=body, params=params, headers=headers, timeout=timeout or self.timeout
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": {"code": "bad_response", "message": response.text[:200]}}
        if response.status_code >= 400:
            raise ApiError(response.status_code, payload.get("error", {}), payload)
        return payload

    def get(self, path: str, **params):
        return self.request("GET", path, params=params or None)

    def download(self, path: str, **params) -> tuple[bytes, str | None]:
        """A file answer: its bytes and the file name the server gave it (errors raise ApiError)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.get(self.url + path, params=params, headers=headers, timeout=self.timeout)
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = {"error": {"code": "bad_response", "message": response.text[:200]}}
            raise ApiError(response.status_code, payload.get("error", {}), payload)
        disposition = response.headers.get("Content-Disposition", "")
        name = unquote(disposition.split("filename*=UTF-8''", 1)[1]) if "filename*=UTF-8''" in disposition else None
        return response.content, name

    def post(self, path: str, body: object = None):
        return self.request("POST", path, body)

    def login(self, username: str, password: str) -> dict:
        result = self.post("/api/login", {"username": username, "password": password})
        self.token = result["token"]
        return result["user"]

    def change_password(self, current: str, new: str) -> dict:
        """Every session of the user ends; this client continues with the new one it is given."""
        result = self.post("/api/password", {"current_password": current, "new_password": new})
        self.token = result["token"]
        return result["user"]


def login_local_admin(client: Client, path=None) -> dict:
    """Log in as the built-in admin from the secrets file on the platform's own machine. The
    generated password must be changed at first login: this replaces it with a new random one and
    writes that back to the (0600) file, so the password `make up` generated is dead after its
    first use and the file stays the one place the admin password of this machine is kept."""
    import secrets as token

    path = path or secrets_file()
    stored = load_secrets_from(path)
    try:
        user = client.login(stored["admin_username"], stored["admin_password"])
    except ApiError as exc:
        if exc.status != 401:
            raise
        # another CLI process may have just rotated it: read the file again, once
        stored = load_secrets_from(path)
        user = client.login(stored["admin_username"], stored["admin_password"])
    if user.get("must_change_password"):
        new = token.token_urlsafe(24)
        user = client.change_password(stored["admin_password"], new)
        store_admin_password(new, path)
    return user


def load_secrets_from(path) -> dict:
    return json.loads(open(path, encoding="utf-8").read())


def connect(url=None, user=None, password=None, token=None) -> Client:
    """A logged-in client: explicit token, else user/password, else the local built-in admin."""
    client = Client(url, token or os.environ.get("SHUANGJIAN_TOKEN"))
    if client.token:
        return client
    if user:
        if password is None:
            password = os.environ.get("SHUANGJIAN_PASSWORD") or _ask_password(user)
        client.login(user, password)
        return client
    if not secrets_file().exists():
        raise SystemExit(f"未找到 {secrets_file()}：请先在本机执行 make up，或用 --user/--token 连接远程平台")
    login_local_admin(client)
    return client


def _ask_password(user: str) -> str:
    import getpass

    return getpass.getpass(f"{user} 的密码：")


def dumps(payload) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2)


def wait_until(fetch, done, seconds: float = 30, interval: float = 0.2):
    """Call `fetch` until `done(value)` or the time is up; returns the last value.

    Events and workflows complete asynchronously: callers see effects a moment after a command.
    """
    deadline = time.monotonic() + seconds
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = fetch()
    return value
