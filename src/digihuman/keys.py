"""API keys: random tokens, kept only as SHA-256 hashes.

Keys are 256-bit random strings, so a plain (unsalted) hash is enough to make
a stolen database useless for authentication, and it allows lookup by hash.

Each key also has a webhook secret that signs its task callbacks. Unlike the key it
is kept in the clear, since the server needs it to sign; it is made with the key,
or on first use for configured keys and keys made before callbacks existed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from digihuman.database import Database
from digihuman.tasks.records import ApiKeyRow, WebhookSecretRow

PREFIX = "dh_"
SECRET_PREFIX = "whsec_"


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
        owner, now = uuid.uuid4().hex, time.time()
        with self.db.transaction() as s:
            s.add(ApiKeyRow(id=owner, name=name, key_hash=hash_key(key), created_at=now))
            s.add(WebhookSecretRow(owner=owner, secret=new_webhook_secret(), created_at=now))
        return key

    def webhook_secret(self, owner: str) -> str:
        """The secret that signs ``owner``'s callbacks, made now if the key has none yet."""
        with self.db.transaction() as s:
            secret = s.scalar(select(WebhookSecretRow.secret).where(WebhookSecretRow.owner == owner))
        if secret is not None:
            return secret
        try:
            with self.db.transaction() as s:
                s.add(WebhookSecretRow(owner=owner, secret=new_webhook_secret(), created_at=time.time()))
        except IntegrityError:  # another process made it first; theirs is the one
            pass
        with self.db.transaction() as s:
            return s.scalars(select(WebhookSecretRow.secret).where(WebhookSecretRow.owner == owner)).one()

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


def new_webhook_secret() -> str:
    """``whsec_`` and 32 random bytes in base64, the form Standard Webhooks libraries read."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
