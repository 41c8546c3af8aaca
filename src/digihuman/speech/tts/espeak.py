"""Speech in about a hundred languages with the ``espeak-ng`` program (formant synthesis, 22.05 kHz).

It is the fallback for languages without a neural voice: robotic, but it reads its
languages' numbers and abbreviations itself. The program prints phonemes but not
their times (its ``--pho`` timing output exists only for MBROLA voices), so its
utterances carry no phones; lip sync aligns them from the audio instead.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

import numpy as np

from digihuman.errors import EngineUnavailable
from digihuman.speech.tts.backend import Utterance
from digihuman.speech.tts.base import SpeechOptions, Voice

RATE = 22050
# eSpeak voice name → (BCP 47 tag, English name).
LANGUAGES: dict[str, tuple[str, str]] = {
    "fr": ("fr-FR", "French"), "de": ("de-DE", "German"), "es": ("es-ES", "Spanish"),
    "it": ("it-IT", "Italian"), "pt": ("pt-PT", "Portuguese"), "pt-br": ("pt-BR", "Brazilian Portuguese"),
    "nl": ("nl-NL", "Dutch"), "sv": ("sv-SE", "Swedish"), "pl": ("pl-PL", "Polish"), "cs": ("cs-CZ", "Czech"),
    "ru": ("ru-RU", "Russian"), "uk": ("uk-UA", "Ukrainian"), "el": ("el-GR", "Greek"),
    "tr": ("tr-TR", "Turkish"), "ar": ("ar", "Arabic"), "he": ("he-IL", "Hebrew"), "hi": ("hi-IN", "Hindi"),
    "ja": ("ja-JP", "Japanese"), "ko": ("ko-KR", "Korean"), "vi": ("vi-VN", "Vietnamese"),
    "id": ("id-ID", "Indonesian"), "th": ("th-TH", "Thai"), "yue": ("yue-HK", "Cantonese"),
    "en-us": ("en-US", "English"), "cmn": ("zh-CN", "Mandarin"),
}
# Listed by default: the languages the neural voices do not cover.
DEFAULT_LANGUAGES = tuple(code for code in LANGUAGES if code not in ("en-us", "cmn"))


def voice_id(code: str) -> str:
    return f"espeak-{code}"


class EspeakBackend:
    """eSpeak NG voices ``espeak-<code>`` (``espeak-fr``, ``espeak-de``...), run by the ``espeak-ng`` program.

    ``languages``: eSpeak voice names to offer (keys of :data:`LANGUAGES`); ``words_per_minute``:
    speaking rate (eSpeak's default 175 is hurried).
    """

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, binary: str = "espeak-ng",
                 words_per_minute: int = 160, timeout_s: float = 60.0) -> None:
        unknown = [code for code in languages if code not in LANGUAGES]
        if unknown:
            raise ValueError(f"no eSpeak voice table entry for {unknown}; known: {sorted(LANGUAGES)}")
        self._languages = tuple(languages)
        self._binary = binary
        self._wpm = words_per_minute
        self._timeout_s = timeout_s

    @staticmethod
    def installed(binary: str = "espeak-ng") -> bool:
        return shutil.which(binary) is not None

    def voices(self) -> list[Voice]:
        return [Voice(voice_id(code), f"eSpeak {LANGUAGES[code][1]}", LANGUAGES[code][0], "male", RATE,
                      "eSpeak NG formant synthesis (robotic; fallback for languages without a neural voice).")
                for code in self._languages]

    def speak(self, text: str, voice_id: str, options: SpeechOptions) -> Utterance:
        code = voice_id.removeprefix("espeak-")
        binary = shutil.which(self._binary)
        if binary is None:
            raise EngineUnavailable("eSpeak NG text-to-speech", "apt-get install espeak-ng")
        # Text goes in on stdin, so nothing in it can be taken for an option.
        # eSpeak NG speaks 80-450 words a minute; a speed beyond that range is held at its end.
        wpm = min(450, max(80, round(self._wpm * options.speed)))
        result = subprocess.run([binary, "-v", code, "-s", str(wpm), "-b", "1", "--stdout"],
                                input=text.encode("utf-8"), capture_output=True, timeout=self._timeout_s,
                                check=False)
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace")
            raise RuntimeError(f"espeak-ng failed ({result.returncode}): {detail}")
        samples, rate = _read_wav(result.stdout)
        return Utterance(samples, rate)


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Samples of the 16-bit mono WAV espeak-ng streams, whose size fields are left unset."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV stream")
    rate = RATE
    i = 12
    while i + 8 <= len(data):
        tag, size = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
        if tag == b"fmt ":
            rate = int.from_bytes(data[i + 12:i + 16], "little")
        if tag == b"data":
            pcm = data[i + 8:]
            pcm = pcm[:len(pcm) // 2 * 2]
            return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0, rate
        i += 8 + size
    return np.zeros(0, np.float32), rate
