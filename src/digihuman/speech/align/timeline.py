"""Speech audio → Timeline: the one place that chooses how phones are found.

    English (language "en", or English text)  words from the recogniser or the given text, then
                                              pocketsphinx forced alignment          method "align"
    Mandarin ("zh", or Han text)              character times → pinyin initial/final  method "pinyin"
    anything else, or recognition failed      acoustic openness and rough shapes     method "acoustic"
    no speech at all                          one silence span                       method "silence"
    text-to-speech chunks with phones         the synthesiser's own phones           method "tts"
    only where it pauses (:func:`pauses_only`)  silences, no phones                    method "pauses"

Every method marks silences from the signal level, and gives each phone how open it sounded
(``Phone.openness``, from the learned acoustic model), which the mouth track adds to the
phone's table target.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digihuman.speech.align import acoustic
from digihuman.speech.align.english import EnglishAligner, retime_text
from digihuman.speech.align.features import HOP, RATE, energy_db
from digihuman.speech.align.lexicon import in_dictionary, pronounce, words_of
from digihuman.speech.align.mandarin import is_chinese, mandarin_phones, tokens
from digihuman.speech.align.silence import silence_spans, speech_mask
from digihuman.speech.align.visemes import SILENCE, PhoneTargets, as_arpabet, default_targets, viseme_of
from digihuman.speech.asr.base import Recognizer, Transcript
from digihuman.timeline import Phone, Timeline, Viseme, Word
from digihuman.timings import stage

if TYPE_CHECKING:
    from digihuman.speech.utterance import Speech

log = logging.getLogger(__name__)


class TimelineBuilder:
    """Makes timelines; holds the aligner (its decoder loads once) and the learned tables."""

    def __init__(self, targets: PhoneTargets | None = None, aligner: EnglishAligner | None = None) -> None:
        self.targets = targets or default_targets()
        self.aligner = aligner or EnglishAligner()
        self._openness = self.targets.openness_model()

    def build(self, audio: Path, *, text: str | None = None, language: str | None = None,
              recognizer: Recognizer | None = None) -> Timeline:
        """The timeline of an audio (or video) file; see ``build_timeline``."""
        from digihuman.speech.utterance import Speech

        return self.for_speech(Speech.from_file(audio, text=text, language=language), recognizer)

    def for_speech(self, speech: Speech, recognizer: Recognizer | None = None) -> Timeline:
        """The timeline of a job's speech, from what is known of it: its own timeline when known
        (text-to-speech), else its text aligned to the sound, else the recogniser's words."""
        if speech.timeline is not None:
            return speech.timeline
        samples = speech.at(RATE)
        transcript = None
        if recognizer is not None and not speech.text:
            try:
                with stage("recognition"):
                    transcript = recognizer.transcribe(samples, language=speech.language)
            except Exception as e:  # noqa: BLE001 - any recogniser failure falls back to acoustics
                log.warning("recognition failed, using the acoustic method: %s", e)
        return self.from_samples(samples, text=speech.text, language=speech.language, transcript=transcript)

    def from_samples(self, samples: np.ndarray, *, text: str | None = None, language: str | None = None,
                     transcript: Transcript | None = None) -> Timeline:
        """The timeline of mono 16 kHz ``samples``, with an optional known text and transcript."""
        duration = round(len(samples) / RATE, 3)
        level = energy_db(samples)
        silences = silence_spans(level, duration=duration)
        speech = speech_mask(level)
        lang = _language(language, text, transcript)
        if not speech.any():
            return Timeline(duration, lang, silences=((0.0, duration),) if duration > 0 else (), method="silence")
        openness = self._openness.predict(samples) if self._openness else None
        words: list[Word] = []
        phones: list[Phone] = []
        method = "acoustic"
        if lang == "en" and (text or (transcript and transcript.words)):
            whole = None
            if text and not (transcript and transcript.words):
                with stage("alignment"):
                    whole = self.aligner.align_text(samples, words_of(text))
            if whole is not None:
                words, phones = whole
                method = "align"
            elif timed := _english_words(text, transcript, speech, duration):
                with stage("alignment"):
                    words, phones = self.aligner.align(samples, timed)
                method = "align"
        elif lang == "zh" and (text or (transcript and transcript.words)):
            words = _mandarin_words(text, transcript, speech, duration)
            phones = mandarin_phones(words)
            method = "pinyin" if phones else "acoustic"
        breaths = acoustic.breath_visemes(samples, openness, speech) if openness is not None else ()
        if method == "acoustic":
            if self._openness is None:
                raise RuntimeError("the acoustic method needs a learned openness model in phone_targets.json")
            visemes = acoustic.acoustic_visemes(samples, self._openness, speech)
            return Timeline(duration, lang, words=tuple(w for w in (transcript.words if transcript else ())),
                            visemes=_cover(visemes, duration, breaths), silences=silences, method=method)
        phones = _clip(phones, duration)
        if openness is not None:
            phones = [replace(p, openness=_mean(openness, p.start, p.end)) for p in phones]
        return Timeline(duration, lang, words=tuple(words), phones=tuple(phones),
                        visemes=visemes_of(phones, duration, breaths), silences=silences, method=method)

    def from_tts(self, chunks: Iterable) -> Timeline:
        """See ``timeline_from_tts``."""
        from digihuman.media.audio import resample

        pieces: list[np.ndarray] = []
        phones: list[Phone] = []
        words: list[Word] = []
        offset = 0.0
        aligned = False
        language = "und"
        for chunk in chunks:
            samples = resample(np.asarray(chunk.samples, np.float32), chunk.sample_rate, RATE)
            pieces.append(samples)
            spoken = [p for p in chunk.phones if as_arpabet(p.symbol) != ("SIL",)]
            if spoken:
                phones += [replace(p, start=round(p.start + offset, 3), end=round(p.end + offset, 3)) for p in spoken]
                language = "zh" if spoken[0].symbol[:1].islower() else "en"
            elif chunk.text.strip():
                sub = self.from_samples(samples, text=chunk.text)
                aligned = True
                language = sub.language
                phones += [replace(p, start=round(p.start + offset, 3), end=round(p.end + offset, 3)) for p in sub.phones]
                words += [replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in sub.words]
            offset += len(chunk.samples) / chunk.sample_rate
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        duration = round(offset, 3)
        silences = silence_spans(energy_db(samples), duration=duration) if len(samples) else ()
        if not phones:
            return self.from_samples(samples) if len(samples) else Timeline(0.0, language, method="tts")
        phones = _clip(_monotonic(phones), duration)
        breaths: tuple[Viseme, ...] = ()
        if self._openness is not None:
            openness = self._openness.predict(samples)
            phones = [replace(p, openness=_mean(openness, p.start, p.end)) for p in phones]
            breaths = acoustic.breath_visemes(samples, openness, speech_mask(energy_db(samples)))
        return Timeline(duration, language, words=tuple(words), phones=tuple(phones),
                        visemes=visemes_of(phones, duration, breaths), silences=silences,
                        method="tts+align" if aligned else "tts")


@lru_cache(maxsize=1)
def default_builder() -> TimelineBuilder:
    """The process-wide builder: one pocketsphinx decoder and one copy of the tables."""
    return TimelineBuilder()


def pauses_only(speech: Speech) -> Timeline:
    """Where ``speech`` pauses, from its level, and nothing else (no words, phones or shapes): all that a
    mouth driven by the sound itself needs of a timeline, at a fraction of what recognition and
    alignment cost. The speech's own timeline when it has one (text-to-speech)."""
    if speech.timeline is not None:
        return speech.timeline
    samples = speech.at(RATE)
    duration = round(len(samples) / RATE, 3)
    level = energy_db(samples)
    language = _language(speech.language, speech.text, None)
    if not speech_mask(level).any():
        whole = ((0.0, duration),) if duration > 0 else ()
        return Timeline(duration, language, silences=whole, method="silence")
    return Timeline(duration, language, silences=silence_spans(level, duration=duration), method="pauses")


def build_timeline(audio: Path, *, text: str | None = None, language: str | None = None,
                   recognizer: Recognizer | None = None) -> Timeline:
    """Phones, visemes and silences of any speech audio (or video with sound).

    ``text``: what is said, when known (then it is aligned to the sound: nothing is recognised);
    ``language``: "en", "zh" or another code (detected by the recogniser, or guessed from the
    text, when None); ``recognizer``: times the words when there is no text. Without text or
    recogniser, and for languages other than English and Mandarin, the acoustic method answers.
    """
    return default_builder().build(audio, text=text, language=language, recognizer=recognizer)


def timeline_from_tts(chunks: Iterable) -> Timeline:
    """Timeline of synthesised speech (``AudioChunk``s in order), from the phones chunks carry.

    A chunk without phones is aligned to its own text. No recognition runs: fast.
    """
    return default_builder().from_tts(chunks)


def visemes_of(phones: Sequence[Phone], duration: float, breaths: Sequence[Viseme] = ()) -> tuple[Viseme, ...]:
    """One viseme per run of phones with the same shape, ``sil`` in between, covering the audio.

    ``breaths`` (``sil`` spans weighted by audible breathing) fill the pauses where they fall.
    """
    out: list[Viseme] = []
    for p in phones:
        symbol = viseme_of(p.symbol)
        if out and out[-1].symbol == symbol and abs(out[-1].end - p.start) < 1e-6:
            out[-1] = replace(out[-1], end=p.end)
        else:
            out.append(Viseme(symbol, p.start, p.end))
    return _cover(tuple(out), duration, breaths)


def _cover(visemes: Sequence[Viseme], duration: float, breaths: Sequence[Viseme] = ()) -> tuple[Viseme, ...]:
    """``visemes`` with every gap filled by ``sil``: the breath spans inside it, else a full rest."""
    out: list[Viseme] = []
    cursor = 0.0
    for v in [*visemes, Viseme(SILENCE, duration, duration)]:
        if v.start > cursor + 1e-6:
            out += _pause(cursor, v.start, breaths)
        if v.end > v.start:
            out.append(v)
        cursor = max(cursor, v.end)
    return tuple(out)


def _pause(start: float, end: float, breaths: Sequence[Viseme]) -> list[Viseme]:
    out: list[Viseme] = []
    cursor = start
    for b in breaths:
        a, z = max(b.start, start), min(b.end, end)
        if z - a < 1e-6:
            continue
        if a > cursor + 1e-6:
            out.append(Viseme(SILENCE, round(cursor, 3), round(a, 3), 0.0))
        out.append(Viseme(SILENCE, round(a, 3), round(z, 3), b.weight))
        cursor = z
    if end > cursor + 1e-6:
        out.append(Viseme(SILENCE, round(cursor, 3), round(end, 3), 0.0))
    return out


def _language(language: str | None, text: str | None, transcript: Transcript | None) -> str:
    if language:
        code = language.lower().split("-")[0].split("_")[0]
        return {"cmn": "zh", "zho": "zh", "chi": "zh", "eng": "en"}.get(code, code)
    if text:
        return guess_language(text)
    if transcript and transcript.language:
        return transcript.language
    return "und"


def guess_language(text: str) -> str:
    """"zh" for Han text, "en" when most words are in the English dictionary, else "und"."""
    if is_chinese(text):
        return "zh"
    ws = words_of(text)
    if ws and sum(in_dictionary(w) for w in ws) >= 0.7 * len(ws):
        return "en"
    return "und"


def _speech_spans(speech: np.ndarray) -> list[tuple[float, float]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    return [(a * HOP, b * HOP) for a, b in zip(edges[::2], edges[1::2])]


def spread(units: Sequence[str], weights: Sequence[float], speech: np.ndarray) -> list[Word]:
    """Untimed words laid over the speech in order, each taking time in proportion to its weight."""
    spans = _speech_spans(speech)
    total_speech = sum(b - a for a, b in spans)
    total = sum(weights) or 1.0
    out, k, used = [], 0, 0.0
    for unit, w in zip(units, weights):
        need = total_speech * w / total
        start = None
        while k < len(spans) and need > 1e-9:
            a, b = spans[k]
            t0 = a + used
            take = min(need, b - t0)
            start = t0 if start is None else start
            used += take
            need -= take
            end = t0 + take
            if a + used >= b - 1e-9:
                k, used = k + 1, 0.0
        if start is not None:
            out.append(Word(unit, round(start, 3), round(end, 3)))
    return out


def _english_words(text: str | None, transcript: Transcript | None, speech: np.ndarray, duration: float) -> list[Word]:
    heard = list(transcript.words) if transcript else []
    if not text:
        return heard
    ws = words_of(text)
    if heard:
        return retime_text(ws, heard, duration)
    return spread(ws, [len(pronounce(w)) for w in ws], speech)


def _mandarin_words(text: str | None, transcript: Transcript | None, speech: np.ndarray, duration: float) -> list[Word]:
    heard = list(transcript.words) if transcript else []
    if not text:
        return heard
    units = [u.lower() for u in tokens(text)]
    if heard:
        return retime_text(units, heard, duration, normalize=lambda s: "".join(tokens(s)).lower())
    return spread(units, [1.0 if is_chinese(u) else 0.5 * len(u) for u in units], speech)


def _mean(curve: np.ndarray, start: float, end: float) -> float:
    a = int(start / HOP)
    seg = curve[a: max(a + 1, int(np.ceil(end / HOP)))]
    return round(float(seg.mean()), 3) if seg.size else 0.5


def _monotonic(phones: list[Phone]) -> list[Phone]:
    out: list[Phone] = []
    for p in sorted(phones, key=lambda p: p.start):
        start = max(p.start, out[-1].end) if out else p.start
        if p.end - start > 1e-3:
            out.append(replace(p, start=start))
    return out


def _clip(phones: Sequence[Phone], duration: float) -> list[Phone]:
    # Phones are kept inside the audio (an aligner may reach into the padding it added).
    return [replace(p, start=max(0.0, p.start), end=min(p.end, duration)) for p in phones
            if p.start < duration - 1e-3 and p.end > 1e-3]
