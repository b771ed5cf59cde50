"""Uploaded files (inspection evidence, case attachments) stored by content: one file per SHA-256."""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path


def store_by_hash(folder: Path, content: bytes) -> str:
    """Write `content` as `folder/<sha256>` (atomically, once: the same file twice is stored once);
    returns the digest."""
    digest = hashlib.sha256(content).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        tmp = folder / f".{digest}.{secrets.token_hex(4)}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, path)
    return digest
