"""The stock voices' calibration frames, analysed once per installation instead of once per process.

Every conversion measures the stock voice that speaks for the model: WORLD frames of a few
calibration sentences, about 7 CPU-s per language. A fresh worker, a ``digihuman voice`` call or a
restarted server would pay that again before its first voice task. The frames depend only on the
installed packages and on this package's speech code, which the cache key covers, so they are
kept on disk beside the other assembled models.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from digihuman.speech.voices.features import Frames

FIELDS = ("f0", "mcep", "bap")


def cached_frames(folder: Path | None, language: str, voice: str, sentences: Sequence[str],
                  make: Callable[[], list[Frames]]) -> list[Frames]:
    """``make()``'s frames of the stock ``voice`` saying ``sentences``, read from ``folder`` if kept there."""
    if folder is None:
        return make()
    path = folder / f"{language}-{_key(language, voice, tuple(sentences))}.npz"
    try:
        with np.load(path) as kept:
            return [Frames(*(kept[f"{name}{i}"] for name in FIELDS)) for i in range(len(sentences))]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # not made yet, or damaged
        pass
    frames = make()
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with partial.open("wb") as out:
        np.savez(out, **{f"{name}{i}": getattr(f, name) for i, f in enumerate(frames) for name in FIELDS})
    partial.replace(path)  # atomic: processes making it at once each write a whole file
    for older in folder.glob(f"{language}-*.npz"):  # made by an earlier version: never read again
        if older != path:
            older.unlink(missing_ok=True)
    return frames


def _key(language: str, voice: str, sentences: tuple[str, ...]) -> str:
    described = json.dumps([language, voice, sentences, _packages(), _speech_code()])
    return hashlib.sha256(described.encode()).hexdigest()[:20]


@lru_cache(maxsize=1)
def _packages() -> list[str]:
    # the stock voice's model, its runtime and WORLD all come from installed distributions; their
    # folders are named name-version.dist-info, so listing them names every version without parsing
    # each one's METADATA (that took ~0.4 CPU-s in every process)
    found: set[str] = set()
    for entry in sys.path:
        try:
            listed = Path(entry or ".").iterdir()
            found.update(p.name for p in listed if p.suffix in (".dist-info", ".egg-info"))
        except OSError:  # a zip file, a missing or unreadable folder: no distributions listed there
            continue
    return sorted(found)


@lru_cache(maxsize=1)
def _speech_code() -> str:
    # how the sentences are spoken and analysed: any change to the speech code makes new frames
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()
