"""Taking media from users: a URL or an upload becomes a probed, content-addressed stored file.

Inputs are taken when a request arrives, before its task is queued, so that a
bad URL or a text file named .mp4 is answered at once; jobs then only ever see
storage keys of files known to be readable media.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import unquote

from digihuman.config import Settings
from digihuman.errors import InvalidInput, NotFound, ServerBusy, TooLarge
from digihuman.media.fetch import FetchPolicy, check_url, fetch, human_size
from digihuman.media.probe import MediaInfo, probe, require, require_length
from digihuman.storage.base import Storage
from digihuman.timings import stage

Expect = Literal["image", "video", "audio", "visual", "speech", "any"]
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredMedia:
    """A user's input, stored under ``key`` and known to be media of ``info``."""

    key: str
    info: MediaInfo


class Intake:
    """Fetches, uploads, probes and stores user media under ``uploads/<sha256>.<ext>``."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self._own_prefix = settings.public_url + "/files/"
        self._tmp = settings.data_dir / "tmp"
        # Downloads run on request threads; bounding them keeps threads free for everything else (/health).
        self._downloads = threading.BoundedSemaphore(settings.media.max_concurrent_downloads)

    def limit(self, training: bool) -> int:
        media = self.settings.media
        return media.max_training_bytes if training else media.max_input_bytes

    def check(self, url: str, field: str) -> None:
        """Cheap syntax and address checks, for validating a request before any download."""
        if not isinstance(url, str) or not url.strip():
            raise InvalidInput(f"{field} is missing: give an http(s) URL or the url of a file uploaded to /v1/files.")
        if not url.startswith(self._own_prefix):
            check_url(url, self._policy(self.limit(False)), field)

    def take_url(self, url: str, field: str, expect: Expect, *, training: bool = False) -> StoredMedia:
        """Download (or find, for our own /files/ URLs) the media at ``url`` and store it."""
        max_bytes = self.limit(training)
        if url.startswith(self._own_prefix):
            key = unquote(url.removeprefix(self._own_prefix).split("?", 1)[0])
            try:
                path = self.storage.local_path(key)
            except NotFound as e:
                raise NotFound(f"{field} names a file that is not on this server ({key}); "
                               "upload it again with POST /v1/files and pass the new url.") from e
            except InvalidInput as e:
                raise InvalidInput(f"{field} is not a valid url of this server's files: {e.message}") from e
            if path.stat().st_size > max_bytes:
                raise TooLarge(f"{field} is larger than the {human_size(max_bytes)} limit.")
            return StoredMedia(key, self._probe(path, field, expect))
        self._tmp.mkdir(parents=True, exist_ok=True)
        if not self._downloads.acquire(blocking=False):
            raise ServerBusy("too many downloads in progress; retry in a few seconds, or upload the file "
                             "with POST /v1/files and pass its url.")
        try:
            with tempfile.TemporaryDirectory(dir=self._tmp) as tmp:
                with stage("download"):
                    fetched = fetch(url, Path(tmp) / "input", self._policy(max_bytes), field)
                return self._store(fetched.path, field, expect)
        finally:
            self._downloads.release()

    def take_upload(self, stream: BinaryIO, field: str, expect: Expect = "any") -> StoredMedia:
        """Store an uploaded file, refusing it as soon as it passes the largest input limit."""
        max_bytes = self.limit(True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._tmp) as tmp:
            path = Path(tmp) / "upload"
            size = 0
            with path.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"{field} is larger than the {human_size(max_bytes)} upload limit.")
                    out.write(chunk)
            if size == 0:
                raise InvalidInput(f"{field} is empty: upload an audio, video or image file.")
            return self._store(path, field, expect)

    def _store(self, path: Path, field: str, expect: Expect) -> StoredMedia:
        with stage("intake"):
            info = self._probe(path, field, expect)
            key = f"uploads/{_sha256(path)[:40]}.{info.extension}"
            if not self.storage.exists(key):
                self.storage.put_file(key, path)
        return StoredMedia(key, info)

    def _probe(self, path: Path, field: str, expect: Expect) -> MediaInfo:
        info = probe(path, field=field)
        if expect != "any":
            require(info, expect, field)
        if expect in ("speech", "audio"):
            # what gets spoken, rendered or mixed in: a length beyond this only ties up a worker
            require_length(info, field, self.settings.media.max_audio_seconds)
        return info

    def _policy(self, max_bytes: int) -> FetchPolicy:
        media = self.settings.media
        return FetchPolicy(
            max_bytes=max_bytes,
            connect_timeout_s=media.connect_timeout_s,
            read_timeout_s=media.read_timeout_s,
            max_redirects=media.max_redirects,
            deadline_s=media.download_deadline_s,
            allowed_hosts=frozenset(h.lower() for h in self.settings.allowed_hosts),
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

