"""The storage protocol: a flat key space of files, with '/' as a folder separator.

Engines work on local paths, so reading goes through ``local_path`` (object
storage downloads into a bounded cache there); writing copies a finished file in.
Clients always download from ``url(key)`` on the API, which serves the file or
redirects to ``link(key)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from digihuman.errors import InvalidInput

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")


def validate_key(key: str) -> str:
    """Refuse keys that could climb out of the store ('..', absolute paths, odd characters)."""
    if len(key) > 512 or not _KEY.match(key) or ".." in key.split("/"):
        raise InvalidInput(f"invalid file key {key[:80]!r}: use letters, digits, '.', '_', '-' and '/'.")
    return key


class Storage(Protocol):
    """A store of files by key."""

    def put_file(self, key: str, source: Path) -> None:
        """Copy (or move, when ``source`` is a temporary file of ours) ``source`` in under ``key``."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""

    def local_path(self, key: str) -> Path:
        """A local path to read the file under ``key``; NotFound when it is absent."""

    def put_dir(self, prefix: str, source: Path) -> None:
        """Store every file below folder ``source`` under ``prefix/``."""

    def local_dir(self, prefix: str) -> Path:
        """A local folder holding the files under ``prefix``; NotFound when there are none."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a file."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file under ``prefix`` (a key or a folder); returns how many went."""

    def iter_older_than(self, prefix: str, cutoff: float) -> Iterator[str]:
        """Keys under ``prefix`` last written before ``cutoff`` (a Unix time)."""

    def url(self, key: str) -> str:
        """The absolute URL clients download ``key`` from."""

    def link(self, key: str, method: str = "GET") -> str | None:
        """A short-lived URL of the store itself that ``/files/<key>`` may redirect ``method`` to; None
        when the API serves the file (local files, or an object store clients cannot reach)."""
