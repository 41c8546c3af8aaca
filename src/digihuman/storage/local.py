"""Files in a local directory, served by the API under ``/files/``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from digihuman.errors import NotFound
from digihuman.storage.base import validate_key


class LocalStorage:
    """The default store: ``root/<key>`` on disk, written atomically."""

    def __init__(self, root: Path, public_url: str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_url = public_url.rstrip("/")

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put_file(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy to a sibling temp file then rename, so readers never see half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"file {key!r} does not exist.")
        return path

    def put_dir(self, prefix: str, source: Path) -> None:
        for path in sorted(Path(source).rglob("*")):
            if path.is_file():
                self.put_file(f"{prefix}/{path.relative_to(source).as_posix()}", path)

    def local_dir(self, prefix: str) -> Path:
        path = self._path(prefix)
        if not path.is_dir():
            raise NotFound(f"{prefix!r} does not exist.")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        path = self._path(prefix)
        if path.is_file():
            path.unlink()
            return 1
        if not path.is_dir():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path, ignore_errors=True)
        return count

    def iter_older_than(self, prefix: str, cutoff: float) -> Iterator[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".part-") and path.stat().st_mtime < cutoff:
                yield path.relative_to(self.root).as_posix()

    def url(self, key: str) -> str:
        return f"{self.public_url}/files/{quote(validate_key(key))}"

    def link(self, key: str, method: str = "GET") -> str | None:
        return None  # the API serves local files itself
