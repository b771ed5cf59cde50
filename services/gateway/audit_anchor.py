"""The audit anchor (issue 16): every service's chain head, written on a schedule to a signed,
append-only file outside the service databases, and checked by `shuangjian audit verify`.

A hash chain alone proves nothing against someone who can write the database: they can delete
the last entries and set the head row back, and the shortened chain is consistent again. The
anchor records, every few minutes, each chain's last seq and hash in a file on the gateway's
volume (SHUANGJIAN_AUDIT_ANCHOR_FILE, default var/audit-anchors.jsonl; a deployment mounts it
from storage the database accounts cannot write, and may ship its lines to a log archive). Later
the entry at each anchored seq must still exist with the anchored hash.

Each line is JSON: {"at", "heads": {service: {"seq", "hash"}}, "prev", "sig"}; `prev` is the
SHA-256 of the line before (so a removed or reordered line breaks the file's own chain) and `sig`
an HMAC-SHA256 over the rest with a key derived from the deployment's actor signing key (so a
line cannot be forged without the secrets). Framework-free.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from datetime import datetime
from pathlib import Path

from services.common.clock import iso_utc, utc_now
from services.common.config import var_dir

GENESIS = "0" * 64


def anchor_file() -> Path:
    explicit = os.environ.get("SHUANGJIAN_AUDIT_ANCHOR_FILE")
    return Path(explicit) if explicit else var_dir() / "audit-anchors.jsonl"


def anchor_key(actor_signing_key: str) -> bytes:
    return hmac.new(actor_signing_key.encode(), b"shuangjian.audit-anchor", hashlib.sha256).digest()


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class AnchorProblem(Exception):
    """The anchor file itself was altered (a line's signature or link does not hold)."""


class AnchorLog:
    def __init__(self, path: Path, key: bytes):
        self.path = Path(path)
        self.key = key

    def _sign(self, body: dict) -> str:
        return hmac.new(self.key, _canonical(body).encode("utf-8"), hashlib.sha256).hexdigest()

    def lines(self) -> list[dict]:
        """Every anchor, oldest first, each checked (signature, link to the line before)."""
        return self._read()[0]

    def _read(self) -> tuple[list[dict], str]:
        """(the checked anchors, the digest of the last line: the next line's `prev`)."""
        if not self.path.exists():
            return [], GENESIS
        out, prev = [], GENESIS
        with self.path.open(encoding="utf-8") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                    sig = line.pop("sig")
                except (ValueError, KeyError, AttributeError):
                    raise AnchorProblem(f"锚点文件第{number}行无法读取") from None
                if not hmac.compare_digest(self._sign(line), str(sig)):
                    raise AnchorProblem(f"锚点文件第{number}行签名不符（被改动或伪造）")
                if line.get("prev") != prev:
                    raise AnchorProblem(f"锚点文件第{number}行与前一行不衔接（有行被删除或调换）")
                prev = hashlib.sha256(raw.rstrip("\n").encode("utf-8")).hexdigest()
                out.append(line)
        return out, prev

    def latest(self) -> dict | None:
        lines = self.lines()
        return lines[-1] if lines else None

    def append(self, heads: dict[str, dict], at: datetime | None = None) -> dict:
        """Add one anchor: heads = {service: {"last_seq", "last_hash"}}. Appended with O_APPEND in
        one write; the file is created 0600."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # two gateway replicas anchoring at once: one after the other
            _, prev = self._read()
            body = {"at": iso_utc(at or utc_now()), "prev": prev,
                    "heads": {name: {"seq": int(h["last_seq"]), "hash": str(h["last_hash"])}
                              for name, h in sorted(heads.items())}}
            text = json.dumps(dict(body, sig=self._sign(body)), ensure_ascii=False, sort_keys=True)
            os.write(fd, (text + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        return body


def check(result: dict, anchor: dict | None) -> dict | None:
    """Compare one service's verify result (with `hash_at`) with the latest anchor: None when the
    anchor does not name the service, else {"at", "seq", "ok", "reason"}."""
    if not anchor or result.get("service") not in anchor.get("heads", {}):
        return None
    held = anchor["heads"][result["service"]]
    out = {"at": anchor["at"], "seq": held["seq"], "ok": True, "reason": None}
    if result.get("unavailable"):
        return out | {"ok": None, "reason": "服务未响应，未能对照锚点"}
    entries = result.get("entries") or 0
    if held["seq"] > entries:
        return out | {"ok": False, "reason": f"锚点记录了第{held['seq']}条，现仅有{entries}条（尾部条目被删除）"}
    if result.get("hash_at") != held["hash"]:
        return out | {"ok": False, "reason": f"第{held['seq']}条与锚点哈希不符（锚定后被改写）"}
    return out
