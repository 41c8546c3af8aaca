"""Where inputs, outputs and models are kept, addressed by string keys."""

from digihuman.storage.base import Storage, validate_key
from digihuman.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "validate_key"]
