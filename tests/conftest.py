"""Shared test set-up: every test process has a var dir and deployment secrets.

`make test` (tests/run.py) sets SHUANGJIAN_VAR_DIR, the AMQP vhost and the databases for the
run; running pytest directly falls back to a temporary var dir and SQLite.
"""
import os
import tempfile

if "SHUANGJIAN_VAR_DIR" not in os.environ:
    os.environ["SHUANGJIAN_VAR_DIR"] = tempfile.mkdtemp(prefix="sj-test-")

from services.common.config import ensure_secrets  # noqa: E402

ensure_secrets()
