"""A bounded local cache of downloaded objects, so that engines can read remote files by path.

Each entry is a folder named by a digest of what it holds (an object's key and ETag, or a
folder's listing), so a changed object is simply a new entry and no entry is ever stale.
Entries are built in a temporary folder and renamed into place, so readers, other threads and
other processes sharing the data dir never see half an entry; two builders of one entry race
harmlessly (the loser's copy is dropped).

Past ``max_bytes`` the least recently used entries go, except those used within ``keep_s``:
a job may still be reading them, so the cache may exceed its budget for that long.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

_PART = ".part-"  # prefix of entries being built


def entry_name(subject: str, *version: str) -> str:
    """A file-name-safe name for ``subject`` (a key or folder) as of ``version`` (its ETags): digests
    of each, so that every version of one subject can be dropped by ``ObjectCache.drop(subject)``."""
    return f"{_digest(subject)}-{_digest(*version)[:16]}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class ObjectCache:
    """Folders of downloaded files under ``root``, least recently used ones evicted past ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int, keep_s: float = 3600.0) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.keep_s = keep_s
        self._evicting = threading.Lock()

    def get(self, name: str) -> Path | None:
        """The folder of entry ``name``, marked as just used; None when it is not cached."""
        folder = self.root / name
        try:
            os.utime(folder)  # the folder's mtime is its last use
        except FileNotFoundError:
            return None
        return folder

    def fill(self, name: str, build: Callable[[Path], None]) -> Path:
        """The folder of entry ``name``, built by ``build(empty_folder)`` unless it is cached."""
        if (folder := self.get(name)) is not None:
            return folder
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=_PART))
        try:
            build(tmp)
            try:
                os.rename(tmp, self.root / name)
            except OSError:  # built meanwhile by another thread or process: theirs is as good
                if not (self.root / name).is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.evict()
        return self.get(name) or self.root / name

    def drop(self, *subjects: str) -> int:
        """Remove every cached version of ``subjects`` (deleted files' copies); returns how many went."""
        stems = {f"{_digest(subject)}-" for subject in subjects}
        try:
            gone = [item.path for item in os.scandir(self.root) if item.name[:33] in stems]
        except FileNotFoundError:
            return 0
        for path in gone:
            shutil.rmtree(path, ignore_errors=True)
        return len(gone)

    def size(self) -> int:
        """Bytes held by finished entries."""
        return sum(size for _, _, size in self._entries())

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits its budget; returns how many went."""
        with self._evicting:
            entries = sorted(self._entries(), key=lambda e: e[1])  # oldest use first
            total = sum(size for _, _, size in entries)
            recent = time.time() - self.keep_s
            removed = 0
            for folder, used, size in entries:
                if total <= self.max_bytes or used > recent:
                    break
                shutil.rmtree(folder, ignore_errors=True)
                total -= size
                removed += 1
            self._drop_abandoned_parts()
            return removed

    def _entries(self) -> list[tuple[Path, float, int]]:
        """(folder, last use, bytes) of every finished entry."""
        found = []
        try:
            listing = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        for item in listing:
            if item.name.startswith(_PART) or not item.is_dir(follow_symlinks=False):
                continue
            try:
                used = item.stat().st_mtime
                size = sum(p.stat().st_size for p in Path(item.path).rglob("*") if p.is_file())
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
            found.append((Path(item.path), used, size))
        return found

    def _drop_abandoned_parts(self) -> None:
        """Builds left by a process that died mid-download are removed once they are a day old."""
        stale = time.time() - 86400
        for item in os.scandir(self.root):
            if item.name.startswith(_PART):
                try:
                    if item.stat().st_mtime < stale:
                        shutil.rmtree(item.path, ignore_errors=True)
                except FileNotFoundError:
                    pass
