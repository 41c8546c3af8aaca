"""Where inputs, outputs and models are kept, addressed by string keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from digihuman.storage.base import Storage, validate_key
from digihuman.storage.local import LocalStorage

if TYPE_CHECKING:
    from digihuman.config import Settings

__all__ = ["LocalStorage", "Storage", "open_storage", "validate_key"]


def open_storage(settings: Settings) -> Storage:
    """The store the settings name: an object store for ``storage_url``, else the data dir's files/."""
    if not settings.storage_url:
        return LocalStorage(settings.files_dir, settings.public_url)
    from digihuman.storage.s3 import S3Location, S3Storage  # the client library loads only when used

    location = S3Location.parse(settings.storage_url, settings.storage)
    return S3Storage(location, settings.storage, settings.data_dir / "cache" / "files", settings.public_url)
