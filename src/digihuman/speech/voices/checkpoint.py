"""Tensors of a PyTorch checkpoint read as numpy arrays, without PyTorch.

Only the legacy format (``torch.save`` before 1.6) is read: four pickles (magic number, protocol
version, system info, the object whose tensors refer to storages by persistent id), a pickled list
of storage keys, then each storage's raw bytes behind an 8-byte element count. Resemblyzer's
speaker encoder ships in this format; reading it here spares a 900 MB PyTorch install for 17 MB.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from digihuman.errors import InvalidInput

_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
    """A storage named by the pickle; its bytes come later in the file."""

    def __init__(self, dtype: type) -> None:
        self.dtype = np.dtype(dtype)
        self.array: np.ndarray | None = None


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _DTYPES[name]


class _Tensor:
    """A tensor waiting for its storage's bytes: (storage, offset, size, stride)."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        assert self.storage.array is not None
        flat = self.storage.array[self.offset:]
        item = flat.itemsize
        return np.lib.stride_tricks.as_strided(flat, self.size, [s * item for s in self.stride]).copy()


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                    *_: Any) -> _Tensor:
    return _Tensor(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        if module == "builtins" and name in ("dict", "list", "tuple", "set", "int", "float", "str"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a checkpoint")

    def persistent_load(self, pid: Any) -> Any:
        kind, storage_type, key = pid[0], pid[1], pid[2]
        if kind != "storage" or len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype)
        return self.storages[key]


def load(path: Path) -> Any:
    """The checkpoint's object with every tensor as a numpy array (dicts and lists kept as they are)."""
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        if f.read(2) == b"PK":
            raise InvalidInput(f"{path.name} is a zip-format PyTorch checkpoint; only the legacy format is read.")
        f.seek(0)
        if pickle.load(f) != _MAGIC:
            raise InvalidInput(f"{path.name} is not a PyTorch checkpoint.")
        pickle.load(f)  # protocol version
        if not pickle.load(f).get("little_endian", True):
            raise InvalidInput(f"{path.name} was saved on a big-endian machine.")
        result = _Unpickler(f, storages).load()
        for key in pickle.load(f):
            storage = storages[key]
            count = int(np.frombuffer(f.read(8), "<i8")[0])
            storage.array = np.frombuffer(f.read(count * storage.dtype.itemsize), storage.dtype)
    return _arrays(result)


def _arrays(obj: Any) -> Any:
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return type(obj)((k, _arrays(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_arrays(v) for v in obj)
    return obj
