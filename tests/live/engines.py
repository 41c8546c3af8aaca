"""Fast engines for live-session tests: a "voice" that speaks pieces of a real English recording and
reports phones (as Piper does), so a sentence's mouth is planned from real speech sounds without forced
alignment; and the other fakes of tests.fake_engines."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import numpy as np

from digihuman.config import Settings
from digihuman.engines import Engines
from digihuman.speech.tts.base import AudioChunk, SpeechOptions
from digihuman.timeline import Phone
from tests.fake_engines import RATE, FakeChat, FakeTalkingHead, FakeTTS, FakeVoiceCloner

# an open vowel and a closed consonant in turn: the mouth must open and shut
_PHONES = ("AA1", "M", "IY1", "P")
PHONE_S = 0.1
SECONDS_PER_CHAR = 0.07


@cache
def recording() -> np.ndarray:
    """a01 (English speech), 16 kHz mono float32."""
    from digihuman.speech.align.features import load_audio
    from tests.shared_media import shared

    return load_audio(shared("audio/a01*.wav"))


def speech(chars: int, speed: float = 1.0) -> np.ndarray:
    """About as much of the recording as ``chars`` characters take to say (repeated when longer)."""
    voice = recording()
    n = int(max(0.5, SECONDS_PER_CHAR * chars) / speed * RATE)
    return np.resize(voice, n).astype(np.float32)


class PhonedTTS(FakeTTS):
    """Real speech sounds, one chunk per sentence, with a phone every 100 ms."""

    def synthesize(self, text: str, voice_id: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        for sentence in [s for s in text.replace("。", ".").split(".") if s.strip()] or [text]:
            samples = speech(len(sentence), options.speed)
            count = int(len(samples) / RATE / PHONE_S)
            phones = tuple(Phone(_PHONES[i % len(_PHONES)], i * PHONE_S, (i + 1) * PHONE_S, stressed=True)
                           for i in range(count))
            yield AudioChunk(samples, RATE, sentence, phones)


def build(settings: Settings) -> Engines:
    return Engines(tts=PhonedTTS(), voice_cloner=FakeVoiceCloner(), talking_head=FakeTalkingHead(),
                   chat=FakeChat())
