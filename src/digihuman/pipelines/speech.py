"""Turning text into speech with a stock voice or a cloned voice model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from digihuman.errors import InvalidInput, NotFound
from digihuman.media.audio import write_wav
from digihuman.progress import Progress, no_progress
from digihuman.speech.tts.base import AudioChunk, SpeechOptions
from digihuman.speech.utterance import Speech

if TYPE_CHECKING:
    from digihuman.catalog import Catalog
    from digihuman.engines import Engines
    from digihuman.storage import Storage


class VoiceSources(Protocol):
    """Where voices come from: the engines for stock voices, the catalog and storage for voice models.

    Both the API server's Services and a job's JobContext provide these.
    """

    @property
    def engines(self) -> Engines: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def storage(self) -> Storage: ...


def voice_model_prefix(model_id: str) -> str:
    return f"voices/{model_id}"


def speech_chunks(
    services: VoiceSources, voice_id: str, text: str, owner: str | None, options: SpeechOptions = SpeechOptions()
) -> Iterator[AudioChunk]:
    """``text`` spoken by ``voice_id``: a stock voice id, or the id of a trained voice model."""
    if not text.strip():
        raise InvalidInput("text is empty: give the words to speak.")
    engines = services.engines
    if engines.tts is not None and voice_id in {v.id for v in engines.tts.voices()}:
        return engines.tts.synthesize(text, voice_id, options)
    model = services.catalog.voice(voice_id, owner)  # NotFound for unknown ids
    if model.status.state != "trained":
        raise InvalidInput(f"voice model {voice_id} is {model.status.state}, not trained yet; wait for training.")
    try:
        model_dir = services.storage.local_dir(voice_model_prefix(voice_id))
    except NotFound as e:
        raise NotFound(f"the files of voice model {voice_id} are gone; train it again.") from e
    return engines.require_voice_cloner().synthesize(model_dir, text, options)


def speak(services: VoiceSources, voice_id: str, text: str, out: Path, owner: str | None,
          progress: Progress = no_progress) -> float:
    """Write ``text`` spoken by ``voice_id`` to a WAV file; returns its duration in seconds.

    ``progress`` hears of every chunk, so a job that speaks a long text can still be cancelled.
    """
    return write_wav(reporting(speech_chunks(services, voice_id, text, owner), len(text), progress), out)


def spoken(services: VoiceSources, voice_id: str, text: str, owner: str | None, *,
           language: str | None = None, progress: Progress = no_progress) -> Speech:
    """``text`` spoken by ``voice_id`` as a job's :class:`Speech`: the samples, the text, and the
    synthesiser's own phone timings (the talking head recognises nothing).

    ``progress`` hears of every chunk, so a job that speaks a long text can still be cancelled.
    """
    chunks = reporting(speech_chunks(services, voice_id, text, owner), len(text), progress)
    try:
        return Speech.from_chunks(chunks, text=text, language=language)
    except ValueError as e:  # nothing came out
        raise InvalidInput("the text gave no speech: give words the voice can say.") from e


def reporting(chunks: Iterator[AudioChunk], total_chars: int, progress: Progress) -> Iterator[AudioChunk]:
    """``chunks``, reporting after each how much of the text is spoken.

    Synthesis of a long text takes minutes and reports nothing of its own; a job's progress call is
    also where it learns of a cancel, so each chunk gives it that chance.
    """
    stage = "synthesising speech"
    progress(0.0, stage)
    done = 0
    for chunk in chunks:
        done += len(chunk.text)
        progress(min(99.0, 100.0 * done / max(1, total_chars)), stage)
        yield chunk
