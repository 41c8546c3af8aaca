"""Speech recognition with faster-whisper and the two bundled models: tiny.en and base.

Which model hears what: English goes to tiny.en, which costs about half the CPU time of base and
was within one word of it over 15 English clips (bench/asr_eval.py); every other language goes to
base. With no language hint, base listens to the first 30 s of speech and names the language;
English then goes to tiny.en.

Chinese comes out one Word per character. Whisper's Chinese "words" are tokens that often span two
or three characters; a talking head needs each syllable's time, and a Chinese character is one
syllable, so a token's span is shared out evenly among its characters. Whisper base writes Chinese in
Traditional characters unless its prompt is Simplified, so every Chinese decode starts from a
Simplified prompt, every 30 s (no Traditional-to-Simplified table is installed to fix leaks
afterwards; bench/asr_eval.py counts them: none with the prompt, 1 in 6 characters without).
"""

from __future__ import annotations

import os
import threading
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from digihuman.errors import EngineUnavailable, InvalidInput, MediaRejected, NotFound
from digihuman.speech.asr import whisper_models
from digihuman.speech.asr.base import Segment, Transcript
from digihuman.timeline import Word, divide

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16_000  # what whisper hears; faster-whisper's decoder resamples to it
WINDOW_SECONDS = 30  # what whisper hears at once
ModelName = Literal["tiny.en", "base"]
# The prompt that steers whisper to Simplified characters ("What follows are Mandarin sentences.").
ZH_PROMPT = "以下是普通话的句子。"
# Codes people send that whisper spells differently (or, for Cantonese, that base lacks).
LANGUAGE_ALIASES = {
    "cmn": "zh", "zho": "zh", "chi": "zh", "yue": "zh", "eng": "en", "iw": "he", "jv": "jw", "nb": "no",
}
# Languages written without spaces, whose words are split into timed characters.
CHARACTER_LANGUAGES = frozenset({"zh"})


@dataclass(frozen=True)
class WhisperOptions:
    """How WhisperRecognizer decodes. The defaults are what bench/asr_eval.py found best on 2 cores."""

    # cut silences (silero VAD) before decoding: no words invented in long pauses. Prompted
    # (Chinese) audio is always decoded in pieces of speech, so its pauses are skipped either way.
    vad: bool = True
    # Beams searched at once (temperature fallbacks keep faster-whisper's best_of 5 samples). The
    # decoder is the largest share of recognition: 60 s of speech on 2 cores, process CPU s
    # (bench/asr_cost.py: vad / features / encoder / decoder / word times / language detection):
    #   English (tiny.en) beam 5: 0.5 / 0.1 / 4.3 / 6.0 / 1.0 / 1.2 = 13.1; beam 3: decoder 4.7, 11.8 (0.90x)
    #   Mandarin (base)   beam 5: 0.5 / 0.1 / 9.8 / 15.5 / 2.5 / 1.2 = 29.6; beam 3: decoder 11.8, 25.6 (0.87x)
    # (a second run, load 8-11: 15.1 -> 12.3 and 31.8 -> 28.3, 0.82x and 0.89x), with the same WER
    # and CER over bench/asr_eval.py's 13 exact transcripts, the same 60 s of English word for word,
    # and 4 of 234 Mandarin characters different (homophones, as wrong as beam 5's).
    # Beam 2 changed 9 of those characters and tripled CER on the short Mandarin clips (0.107 -> 0.393);
    # greedy (1) measured worse on both languages, and slower on Chinese (fallbacks).
    beam_size: int = 3
    compute_type: str = "int8"  # CTranslate2 weights type on CPU: "int8" or "float32"
    english_model: ModelName = "tiny.en"  # "base" to hear English with the multilingual model
    zh_prompt: str | None = ZH_PROMPT  # None lets whisper base write Traditional characters
    reprompt: bool = True  # decode prompted audio in pieces of <= 30 s of speech, each from the prompt
    # seconds of speech that language detection listens to, encoded only that far: on the 16 test
    # recordings 12 s named the same language as 30 s at a quarter of the CPU (0.9 s against 3.7 s)
    detect_seconds: float = 12.0


class WhisperRecognizer:
    """A Recognizer backed by faster-whisper; models load on first use and stay loaded.

    One instance may serve several threads: loading is locked, and CTranslate2 models are
    thread-safe for inference.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        threads: int = 2,
        options: WhisperOptions | None = None,
    ) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else whisper_models.default_cache_dir()
        self.threads = threads
        self.options = options or WhisperOptions()
        self._models: dict[ModelName, object] = {}
        self._lock = threading.Lock()

    def transcribe(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        """Recognise ``audio`` (any format PyAV reads, or mono 16 kHz float32 samples already
        decoded); ``language`` is a hint, detected when None.

        Audio without speech gives a Transcript with empty text; a file that is not audio
        raises MediaRejected, and an unknown language code InvalidInput.
        """
        import numpy as np

        hint = normalize_language(language)
        samples = load_audio(audio) if isinstance(audio, (str, Path)) else np.asarray(audio, np.float32)
        duration = len(samples) / SAMPLE_RATE
        speech = self._speech_spans(samples)
        if not speech:
            return Transcript(text="", language=hint or "und", duration=round(duration, 3))
        probability: float | None = None
        lang = hint
        if lang is None:
            lang, probability = self._detect(samples, speech)
        segments = self._decode(samples, lang, speech)
        text = "".join(s.text for s in segments).strip()
        spans = [(span["start"] / SAMPLE_RATE, span["end"] / SAMPLE_RATE) for span in speech]
        words = _timed_words(segments, lang, duration, spans)
        return Transcript(
            text=text,
            language=lang,
            duration=round(duration, 3),
            words=words,
            language_probability=None if probability is None else round(probability, 4),
            segments=tuple(_segment(s, duration) for s in segments),
        )

    def model_for(self, language: str) -> ModelName:
        """The model that transcribes speech in ``language`` (a whisper code such as "en")."""
        return self.options.english_model if language == "en" else "base"

    def encoder_states(self, samples: np.ndarray, language: str, short_tail: bool = False) -> np.ndarray:
        """Whisper's encoder output for mono 16 kHz samples: one row per 20 ms, heard 30 s at a time.

        What the decoder reads: the sounds said, with little of who says them, so two voices
        saying the same words can be aligned frame by frame on it. ``short_tail`` encodes the last
        (or only) window only as far as the audio goes (see :func:`_encoded`).
        """
        import numpy as np

        model = self._model(self.model_for(language))
        window = WINDOW_SECONDS * SAMPLE_RATE
        rows = max(1, int(np.ceil(len(samples) / 320)))
        parts = []
        for start in range(0, max(len(samples), 1), window):
            piece = np.asarray(samples[start:start + window], np.float32)
            encoded = _encoded(model, piece, short_tail)
            parts.append(np.array(encoded)[0][: int(np.ceil(len(piece) / 320))])
        return np.concatenate(parts)[:rows].astype(np.float32)

    def detect_language(self, audio: Path) -> tuple[str, float]:
        """The language spoken in ``audio`` and its probability; ("und", 0.0) when nobody speaks."""
        samples = load_audio(audio)
        speech = self._speech_spans(samples)
        return self._detect(samples, speech) if speech else ("und", 0.0)

    # -- stages ---------------------------------------------------------------------------

    def _speech_spans(self, samples) -> list[dict]:  # type: ignore[no-untyped-def]
        vad = _faster_whisper().vad
        # Silero takes ~0.1% of real time here; it decides "no speech" for silence and noise,
        # where whisper alone tends to invent a "Thank you." or a "you".
        return vad.get_speech_timestamps(samples, vad.VadOptions())

    def _detect(self, samples, speech: list[dict]) -> tuple[str, float]:  # type: ignore[no-untyped-def]
        import numpy as np

        # Listen to speech only: leading music or silence misleads detection.
        budget = int(self.options.detect_seconds * SAMPLE_RATE)
        pieces, total = [], 0
        for span in speech:
            piece = samples[span["start"] : span["end"]][: budget - total]
            pieces.append(piece)
            total += len(piece)
            if total >= budget:
                break
        model = self._model("base")
        ranked = model.model.detect_language(_encoded(model, np.concatenate(pieces), short=True))[0]
        language, probability = ranked[0][0].strip("<|>"), ranked[0][1]
        return LANGUAGE_ALIASES.get(language, language), float(probability)

    def _decode(self, samples, language: str, speech: list[dict]) -> list:  # type: ignore[no-untyped-def]
        """Whisper's segments over the whole audio, with times in seconds from its start."""
        opts = self.options
        model = self._model(self.model_for(language))
        prompt = opts.zh_prompt if language == "zh" else None
        # Whisper only sees its initial prompt in the first 30 s window; later windows are prompted
        # by the text before them, and a temperature fallback drops even that. On a 79 s Mandarin
        # clip one pass either drifted back to Traditional (12 characters in its last 22 s) or,
        # with other pauses, skipped ~35 s of speech (173 characters heard of 282). So prompted
        # audio is cut at pauses into pieces of at most 30 s, each decoded afresh from the prompt.
        if prompt and opts.reprompt:
            pieces = _pieces(speech, WINDOW_SECONDS * SAMPLE_RATE)
        else:
            pieces = [(0, len(samples))]
        kept: list = []
        for a, b in pieces:
            segments, _info = model.transcribe(
                samples[a:b],
                language=language,
                beam_size=opts.beam_size,
                word_timestamps=True,
                vad_filter=opts.vad,
                initial_prompt=prompt,
            )
            for segment in segments:  # a generator: decoding happens here
                segment = _shifted(segment, a / SAMPLE_RATE)
                if not _is_echo(segment, kept, prompt):
                    kept.append(segment)
        return kept

    def _model(self, name: ModelName):  # type: ignore[no-untyped-def]
        model = self._models.get(name)
        if model is None:
            with self._lock:
                model = self._models.get(name)
                if model is None:
                    model = self._models[name] = self._load(name)
        return model

    def _load(self, name: ModelName):  # type: ignore[no-untyped-def]
        if name == "tiny.en":
            folder = whisper_models.tiny_en_dir()
        else:
            folder = whisper_models.base_dir(self.cache_dir)
        return _loaded(str(folder), self.options.compute_type, self.threads)


def _encoded(model, samples, short: bool):  # type: ignore[no-untyped-def]
    """Whisper's encoder output (a StorageView) for at most 30 s of ``samples``; ``short`` encodes only
    as far as the audio goes (whole seconds, at least half a second of padding) instead of a full
    window: a 3 s sentence then costs a tenth, and its states are nearly the same (median r 0.99
    per dimension against the full window on three test clips)."""
    import ctranslate2
    import numpy as np

    window = WINDOW_SECONDS * SAMPLE_RATE
    samples = np.asarray(samples[:window], np.float32)
    heard = min(window, int(np.ceil(len(samples) / SAMPLE_RATE + 0.5)) * SAMPLE_RATE) if short else window
    # the log-mel of the heard part only: the zeros after it add no frame the encoder reads (a 2 s
    # sentence: 55 -> 3 ms; features within 1.2e-7 of the full window's)
    features = model.feature_extractor(np.pad(samples, (0, heard - len(samples))))[:, : heard // 160]
    view = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], np.float32))
    return model.model.encode(view, to_cpu=True)


_LOADED: dict[tuple[str, str, int], object] = {}
_LOADED_LOCK = threading.Lock()


def _loaded(folder: str, compute_type: str, threads: int):  # type: ignore[no-untyped-def]
    """One model per folder and settings in a process, however many recognisers are made (~1 CPU-s a load)."""
    with _LOADED_LOCK:
        key = (folder, compute_type, threads)
        if key not in _LOADED:
            _LOADED[key] = _faster_whisper().WhisperModel(
                folder, device="cpu", compute_type=compute_type, cpu_threads=threads, local_files_only=True)
        return _LOADED[key]


def _faster_whisper():  # type: ignore[no-untyped-def]
    """The faster_whisper package, imported on first use: it pulls in CTranslate2, tokenizers and PyAV."""
    # Our model folders hold tokenizer.json, so nothing is fetched; this makes sure of it for any
    # code below that consults the hub (huggingface_hub reads the variable when first imported).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import faster_whisper
        import faster_whisper.tokenizer
        import faster_whisper.vad
    except ImportError as e:
        what = "faster-whisper (speech recognition)"
        raise EngineUnavailable(what, "pip install faster-whisper==1.2.1") from e
    return faster_whisper


def normalize_language(code: str | None) -> str | None:
    """A whisper language code from a user's hint ("en-US" → "en", "cmn" → "zh"); None for auto."""
    if code is None or code.strip().lower() in ("", "auto", "und"):
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    base = LANGUAGE_ALIASES.get(base, base)
    if base not in _faster_whisper().tokenizer._LANGUAGE_CODES:  # the only list of what whisper knows
        raise InvalidInput(
            f"The language {code!r} is not one whisper knows: use an ISO 639-1 code such as en or zh, "
            "or none to detect it."
        )
    return base


def load_audio(path: Path):  # type: ignore[no-untyped-def]
    """Mono float32 samples at 16 kHz from any file PyAV reads that has a sound track."""
    from digihuman.media.probe import probe, require

    if not Path(path).is_file():
        raise NotFound(f"The audio file {path} does not exist.")
    info = probe(Path(path), field="The audio")
    require(info, "speech", "The audio")
    from digihuman.media.audio import decode_audio

    try:
        return decode_audio(Path(path), SAMPLE_RATE)[0]
    except MediaRejected:
        raise
    except Exception as e:  # PyAV raises many kinds; any of them means the same to the user
        raise MediaRejected(
            f"The audio could not be decoded ({type(e).__name__}): send a wav, mp3 or m4a file."
        ) from e


# -- segments and words -----------------------------------------------------------------------


def _pieces(speech: list[dict], limit: int) -> list[tuple[int, int]]:
    """Sample ranges of at most ``limit`` samples, each whole VAD spans (longer spans stand alone)."""
    pieces: list[list[int]] = []
    for span in speech:
        if pieces and span["end"] - pieces[-1][0] <= limit:
            pieces[-1][1] = span["end"]
        else:
            pieces.append([span["start"], span["end"]])
    return [(a, b) for a, b in pieces]


def _shifted(segment, offset: float):  # type: ignore[no-untyped-def]
    """``segment`` with its times (and its words' times) moved ``offset`` seconds later."""
    if not offset:
        return segment
    words = [replace(w, start=w.start + offset, end=w.end + offset) for w in segment.words or []]
    return replace(segment, start=segment.start + offset, end=segment.end + offset, words=words,
                   seek=segment.seek + round(offset * 100))  # seek counts 10 ms frames


def _segment(segment, duration: float) -> Segment:  # type: ignore[no-untyped-def]
    """Our value for one of faster-whisper's segments, its times kept inside the audio."""
    start = min(max(0.0, segment.start), duration)
    return Segment(
        start=round(start, 3),
        end=round(min(max(segment.end, start), duration), 3),
        text=segment.text,
        seek=int(segment.seek),
        tokens=tuple(int(t) for t in segment.tokens),
        temperature=float(segment.temperature or 0.0),
        avg_logprob=round(float(segment.avg_logprob), 4),
        compression_ratio=round(float(segment.compression_ratio), 4),
        no_speech_prob=round(float(segment.no_speech_prob), 4),
    )


def _is_echo(segment, kept: list, prompt: str | None = None) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``segment`` is whisper repeating itself (or its prompt) in a sliver of audio.

    A Chinese prompt makes whisper re-read its last sentence, or the prompt itself, into the few
    tenths of a second left after it (seen on r03: the sentence or the prompt after it, with words
    of zero length and probabilities near 0). Whisper's own anomaly score (as in its hallucination_silence_threshold)
    finds these; a segment counts as an echo only when it is anomalous *and* its text was already
    said, so that quick, unsure, real speech is never dropped.
    """
    words = [w for w in (segment.words or []) if _strip_punctuation(w.word.strip())]
    if not words or not (kept or prompt):
        return False
    said = _letters((prompt or "") + "".join(s.text for s in kept))
    text = _letters(segment.text)
    if not text or text not in said:
        return False
    first = words[:8]
    score = 0.0
    for w in first:
        length = w.end - w.start
        score += (w.probability < 0.15) + max(0.0, 0.133 - length) * 15 + max(0.0, length - 2.0)
    return score >= 3 or score + 0.01 >= len(first)


def _timed_words(
    segments: list, language: str, duration: float, speech: list[tuple[float, float]]
) -> tuple[Word, ...]:
    """Words (characters for Chinese) in order, without overlaps, inside speech and [0, duration]."""
    raw: list[Word] = []
    for segment in segments:
        for w in segment.words or []:
            if language in CHARACTER_LANGUAGES:
                raw.extend(split_characters(w.word, w.start, w.end, w.probability))
            else:
                text = _strip_punctuation(w.word.strip())
                if text:
                    raw.append(Word(text, w.start, w.end, w.probability))
    raw = sorted((_snap(w, speech) for w in raw), key=lambda w: w.start)
    out: list[Word] = []
    previous_end = 0.0
    for w in raw:
        start = min(max(w.start, previous_end), duration)
        end = min(max(w.end, start), duration)
        confidence = None if w.confidence is None else round(w.confidence, 3)
        out.append(Word(w.text, round(start, 3), round(end, 3), confidence))
        previous_end = end
    return tuple(out)


def _snap(word: Word, speech: list[tuple[float, float]]) -> Word:
    """``word`` pulled inside the stretch of speech it overlaps most.

    Whisper stretches the first word after a pause back into the pause (by half a second and
    more, measured in bench/asr_eval.py), and with the VAD filter on, faster-whisper maps a word
    that straddles two joined speech chunks into the silence between them. The VAD spans (padded
    by 0.4 s) are a safe bound: no word starts or ends where nobody speaks.
    """
    best, overlap = None, 0.0
    for a, b in speech:
        shared = min(b, word.end) - max(a, word.start)
        if best is None or shared > overlap:
            best, overlap = (a, b), shared
    if best is None or overlap < 0:
        return word  # a word wholly outside speech (VAD filter off): nothing to pull it into
    start = min(max(word.start, best[0]), best[1])
    end = min(max(word.end, start), best[1])
    return Word(word.text, start, end, word.confidence)


def split_characters(token: str, start: float, end: float, confidence: float | None = None) -> list[Word]:
    """Share a whisper token's span among its syllables: each CJK character, each Latin/digit run.

    A character is one syllable, so it gets one share; a run such as "GPS" or "2024" gets a share
    per ~3 letters, a rough syllable count. Punctuation gets no time.
    """
    units: list[tuple[str, float]] = []
    run = ""
    for ch in token:
        if _is_cjk(ch):
            if run:
                units.append((run, max(1.0, len(run) / 3)))
                run = ""
            units.append((ch, 1.0))
        elif ch.isalnum() or (ch in "'-" and run):
            run += ch
        else:
            if run:
                units.append((run, max(1.0, len(run) / 3)))
            run = ""
    if run:
        units.append((run, max(1.0, len(run) / 3)))
    spans = divide(start, end, [weight for _, weight in units])
    return [Word(text, s, e, confidence) for (text, _), (s, e) in zip(units, spans, strict=True)]


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x2FA1F  # extensions B–F and compatibility supplement
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x3040 <= code <= 0x30FF  # kana, for the odd Japanese word in Chinese speech
    )


def _letters(text: str) -> str:
    """Only the letters and digits of ``text``, lower-cased: what two renderings of a phrase share."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _strip_punctuation(text: str) -> str:
    """Text without leading/trailing punctuation ("nature," → "nature"; "Biden's" stays)."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in "PS":
        end -= 1
    return text[start:end]
