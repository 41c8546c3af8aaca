"""API keys: random tokens, kept only as SHA-256 hashes.

Keys are 256-bit random strings, so a plain (unsalted) hash is enough to make
a stolen database useless for authentication, and it allows lookup by hash.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

from sqlalchemy import func, select

from digihuman.database import Database
from digihuman.tasks.records import ApiKeyRow

PREFIX = "dh_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Checks presented keys against configured ones and those stored in the database."""

    def __init__(self, db: Database, configured: list[str]) -> None:
        self.db = db
        # Configured keys are identified by a hash prefix, so limits apply per key.
        self._configured = {hash_key(k): "env-" + hash_key(k)[:12] for k in configured}

    def create(self, name: str = "") -> str:
        """Make, store and return a new key; the plain key is not kept anywhere."""
        key = PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as s:
            s.add(ApiKeyRow(id=uuid.uuid4().hex, name=name, key_hash=hash_key(key), created_at=time.time()))
        return key

    def count(self) -> int:
        with self.db.transaction() as s:
            return len(self._configured) + (s.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    def identify(self, key: str) -> str | None:
        """The owner id of ``key``, or None when it is not a valid key."""
        digest = hash_key(key)
        if digest in self._configured:
            return self._configured[digest]
        with self.db.transaction() as s:
            return s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.key_hash == digest))
