"""nameko dependency providers of the registry."""
from __future__ import annotations

import hashlib
import hmac

from nameko.extensions import DependencyProvider

from services.common.config import load_secrets

from .staff import id_number_digest


class IdNumberDigest(DependencyProvider):
    """`self.id_digest(number)` → keyed digest of a 身份证号 (finds the same person twice).

    The key is derived from the deployment's actor signing key, so every registry process of a
    deployment agrees without another secret to distribute. Rotating that key changes every
    digest: re-key the staff table in the same maintenance window (docs/decisions.md).
    """

    def setup(self):
        base = load_secrets().actor_signing_key.encode()
        self.key = hmac.new(base, b"shuangjian.registry.id-number", hashlib.sha256).digest()

    def get_dependency(self, worker_ctx):
        key = self.key
        return lambda number: id_number_digest(number, key)
