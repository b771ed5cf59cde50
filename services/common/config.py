"""Settings read from the environment, shared by every process.

Every knob has a local default so that `make up` works on a laptop; a deployment overrides
them with environment variables (see README "Configuration").
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

SERVICE_NAMES = ("registry", "escrow", "inspection", "reporting", "gateway")


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    path = Path(os.environ.get("SHUANGJIAN_VAR_DIR", project_root() / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def amqp_uri() -> str:
    return os.environ.get("SHUANGJIAN_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def temporal_address() -> str:
    return os.environ.get("SHUANGJIAN_TEMPORAL_ADDRESS", "127.0.0.1:7233")


def temporal_namespace() -> str:
    return os.environ.get("SHUANGJIAN_TEMPORAL_NAMESPACE", "default")


def task_queue() -> str:
    return os.environ.get("SHUANGJIAN_TASK_QUEUE", "shuangjian")


def gateway_url() -> str:
    return os.environ.get("SHUANGJIAN_GATEWAY_URL", "http://127.0.0.1:8000")


def database_url(service: str) -> str:
    """Per-service database: SHUANGJIAN_DB_URL_<SERVICE>, else a template, else SQLite in var/."""
    explicit = os.environ.get(f"SHUANGJIAN_DB_URL_{service.upper()}")
    if explicit:
        return explicit
    template = os.environ.get("SHUANGJIAN_DB_URL_TEMPLATE")
    if template:
        return template.format(service=service)
    return f"sqlite:///{var_dir() / (service + '.db')}"


@dataclass(frozen=True)
class Secrets:
    """Deployment secrets. `make up` writes them to var/secrets.json on first start."""

    actor_signing_key: str
    session_signing_key: str
    admin_username: str
    admin_password: str


def secrets_file() -> Path:
    return Path(os.environ.get("SHUANGJIAN_SECRETS_FILE", var_dir() / "secrets.json"))


def ensure_secrets() -> Secrets:
    """Create the secrets file once (mode 0600); later calls read it back."""
    path = secrets_file()
    if not path.exists():
        import secrets as token

        data = {
            "actor_signing_key": token.token_urlsafe(32),
            "session_signing_key": token.token_urlsafe(32),
            "admin_username": "admin",
            "admin_password": token.token_urlsafe(12),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
    return load_secrets()


def store_admin_password(password: str, path: Path | None = None) -> None:
    """Replace the built-in admin's password in the secrets file (atomically, mode 0600): the CLI
    on the platform's machine does it after the forced change of the generated one (issue 16)."""
    path = Path(path or secrets_file())
    data = json.loads(path.read_text())
    data["admin_password"] = password
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def load_secrets() -> Secrets:
    env_key = os.environ.get("SHUANGJIAN_ACTOR_SIGNING_KEY")
    path = secrets_file()
    data = json.loads(path.read_text()) if path.exists() else {}
    if env_key:
        data["actor_signing_key"] = env_key
    if "actor_signing_key" not in data:
        raise RuntimeError(
            f"no secrets: set SHUANGJIAN_ACTOR_SIGNING_KEY or create {path} (make up does)"
        )
    return Secrets(
        actor_signing_key=data["actor_signing_key"],
        session_signing_key=data.get("session_signing_key", data["actor_signing_key"] + ".session"),
        admin_username=data.get("admin_username", "admin"),
        admin_password=data.get("admin_password", ""),
    )


@dataclass(frozen=True)
class Deployment:
    """The division a deployment serves: one county, a city or a whole province."""

    root_code: str
    root_name: str


def deployment() -> Deployment:
    code = os.environ.get("SHUANGJIAN_ROOT_DIVISION_CODE", "340722")
    name = os.environ.get("SHUANGJIAN_ROOT_DIVISION_NAME", "枞阳县")
    return Deployment(root_code=code, root_name=name)
