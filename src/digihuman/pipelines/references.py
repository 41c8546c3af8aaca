"""Zero-shot voices: a voice fitted from reference audio sent with a speech request, cached by content.

Fish Audio's ``references`` (``[{audio, text}]``) clone a voice for one request. Here they go
through the same voice cloner, and the same sample checks, as ``POST /model``; the fitted model
is kept in storage under the SHA-256 of the references, so the next request with the same
audio and text speaks at once instead of fitting again. Fitting is bounded in time: a request
never waits longer than :data:`FIT_TIMEOUT_S` (504), and the fit itself stops there too.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from digihuman.errors import InvalidInput, TaskTimedOut, TooLarge
from digihuman.media.fetch import human_size
from digihuman.services import Services
from digihuman.speech.voices.base import VoiceTrainOptions

MAX_REFERENCES = 5
FIT_TIMEOUT_S = 120.0
PREFIX = "voices/references"
READY = "reference.json"  # written last: its presence means the fitted model is complete

_fits: dict[tuple[str, str], Future[Path]] = {}  # fits under way, by (data dir, references hash)
_fits_lock = threading.Lock()


@dataclass(frozen=True)
class Reference:
    """Speech of the voice to clone, and what it says ("" when unknown)."""

    audio: bytes
    text: str = ""


def references_key(references: list[Reference]) -> str:
    """SHA-256 over every reference's audio and text, each length-prefixed so that no two lists collide."""
    digest = hashlib.sha256()
    for ref in references:
        text = ref.text.strip().encode()
        for part in (ref.audio, text):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def check_references(references: list[Reference], max_bytes: int) -> None:
    """400 for too many or empty references, 413 for one larger than the upload limit."""
    if len(references) > MAX_REFERENCES:
        raise InvalidInput(f"give at most {MAX_REFERENCES} references, not {len(references)}; "
                           "for more speech, create a voice model with POST /model.")
    for i, ref in enumerate(references):
        if not ref.audio:
            raise InvalidInput(f"references[{i}].audio is empty: send the bytes of a recording of the voice.")
        if len(ref.audio) > max_bytes:
            raise TooLarge(f"references[{i}].audio is larger than the {human_size(max_bytes)} upload limit.")


def reference_voice(services: Services, references: list[Reference]) -> Path:
    """The folder of a voice model fitted from ``references``: from storage if fitted before, else fitted now.

    Raises MediaRejected (422) naming the reference when one is not usable speech, as training does.
    """
    cloner = services.engines.require_voice_cloner()
    check_references(references, services.settings.media.max_input_bytes)
    key = references_key(references)
    prefix = f"{PREFIX}/{key}"
    if services.storage.exists(f"{prefix}/{READY}"):
        return services.storage.local_dir(prefix)
    slot = (str(services.settings.data_dir), key)
    with _fits_lock:
        future = _fits.get(slot)
        owner = future is None
        if owner:  # the first request fits; the same references sent meanwhile wait for it
            future = _fits[slot] = Future()
    assert future is not None
    if owner:
        thread = threading.Thread(target=_fit, args=(services, cloner, references, prefix, future, slot),
                                  name=f"reference-fit-{key[:8]}", daemon=True)
        thread.start()
    try:
        return future.result(timeout=FIT_TIMEOUT_S + 5.0)
    except FutureTimeout:
        raise _timed_out() from None


def _fit(services: Services, cloner, references: list[Reference], prefix: str,  # type: ignore[no-untyped-def]
         future: Future[Path], slot: tuple[str, str]) -> None:
    deadline = time.monotonic() + FIT_TIMEOUT_S

    def progress(percent: float, stage: str) -> None:
        if time.monotonic() > deadline:  # the cloner stops at its next report
            raise _timed_out()

    started = time.monotonic()
    try:
        services.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=services.settings.data_dir, prefix="reference-") as tmp:
            samples = [_sample_file(Path(tmp), i, ref.audio) for i, ref in enumerate(references)]
            texts = [ref.text for ref in references]
            model_dir = Path(tmp) / "voice"
            model_dir.mkdir()
            info = cloner.train(samples, texts if any(t.strip() for t in texts) else None,
                                VoiceTrainOptions(train_mode="fast"), model_dir, progress)
            services.storage.put_dir(prefix, model_dir)
            meta = {"references": len(references), "languages": list(info.languages),
                    "speech_seconds": info.speech_seconds, "warnings": list(info.warnings),
                    "fit_seconds": round(time.monotonic() - started, 2)}
            services.storage.put_bytes(f"{prefix}/{READY}", json.dumps(meta).encode())
        future.set_result(services.storage.local_dir(prefix))
    except BaseException as e:  # noqa: BLE001 - every failure goes to the waiting request
        future.set_exception(e)
    finally:
        with _fits_lock:
            _fits.pop(slot, None)


def _sample_file(folder: Path, index: int, audio: bytes) -> Path:
    """The reference in a file named after its field, so that the sample checks' messages name it.

    It is probed as uploads of ``POST /model`` are (422 when it is not audio), and given the
    extension probing found, since FFmpeg guesses formats from names too.
    """
    from digihuman.media.probe import probe, require

    field = f"references[{index}]"
    path = folder / field
    path.write_bytes(audio)
    info = probe(path, field=f"{field}.audio")
    require(info, "speech", f"{field}.audio")
    return path.rename(path.with_name(f"{field}.{info.extension}"))


def _timed_out() -> TaskTimedOut:
    return TaskTimedOut(f"fitting a voice to the references took longer than {FIT_TIMEOUT_S:.0f} s; "
                        "send shorter references, or create a voice model with POST /model and use its id.")
