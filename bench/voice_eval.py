"""Voice cloning quality and speed: speaker similarity, intelligibility, training time, real-time factor.

Run from the repository root:

    .venv/bin/python bench/voice_eval.py --no-full             # every speaker, 12 s and 60 s references
    .venv/bin/python bench/voice_eval.py --speakers a05 a09 --sentences 4 --no-full   # a quick look

For each speaker of ../shared/media with enough speech, the last part of their audio is held out,
voice models are built from the first ``--reference-s`` seconds of the rest (12 and 60 by default;
60 takes what there is, and is left out where that is no more than the 12 s run had), the same
sentences are spoken (English for English speakers, Mandarin for Mandarin ones) and compared with
the held-out speech:

- similarity: cosine of GE2E speaker embeddings between all the spoken sentences and the held-out
  speech. Rows: the stock voices (best of them), the stock voice through the same WORLD
  analysis/synthesis (the vocoder alone moves the score), and each method:
    f0           pitch mapped to the target, envelope unchanged
    mcep         kNN on mean-normalised mel-cepstra, correction smoothed by reference length (the
                 fast setting before parallel frames)
    par-s5       parallel frames (the reference's words said by the stock voice, aligned on whisper
                 encoder states, see speech/voices/parallel.py), correction smoothed over 5 frames
    par-s15      the same over 15 frames
    par-quiet    parallel frames, the stock voice's loudness contour kept
    before       fast training's conversion before intonation, speaking rate and fine envelope (parallel
                 frames, gv 1)
    detail-13    + mel-cepstral coefficients 13.. from the reference's own 2 closest paired frames, unsmoothed
    sharpen      + mel-cepstral post-filter (coefficients 2.. x 1.15, energy kept)
    intonation   + the speaker's phrase intonation (declination, swings, wobble; speech/voices/intonation.py)
    tempo        + the speaker's speaking rate (stock speech said at the rate the pairs measured)
    own-0.5      + each frame half replaced by the speaker's own frames paired with its nearest sounds
    gv-1.5       + envelope spread restored more strongly (gv 1.5)
    all          intonation, tempo and gv 1.5 together
    fast         what fast training chose (parallel frames where the words were known)
    full         what full training tuned (unless --no-full)
    units        the speaker's own recorded phones, chosen by unit selection and played one after another
                 (English; see unit_selection.py)
    units-timed  the same phones stretched onto the stock voice's phone times over the fast conversion
    units-close  units-timed where a phone's envelope lies near the conversion's, the conversion elsewhere
  --methods picks rows (the default leaves out the older mcep / par-* rows to save time).
  Measured 2026-12-03 (a05, lv03, a09 at ~10 s and 13-38 s of speech; a03, a06 at 5-6 s), each against
  before: intonation -0.006..+0.009, own-0.5 -0.003..+0.010, gv-1.5 -0.001..+0.004 similarity, all
  within the spread between speakers; tempo -0.009..-0.011 on English at ~10 s and Mandarin CER
  0.09 -> 0.15; own-0.5 also cost words (lv03 38 s WER 0.08 -> 0.12, a09 CER 0.10 -> 0.15). So fast
  training kept before's conversion, with the correction averaged over 9 frames from 30 s as well.
  Measured 2026-12-03 at 12 s (a05, lv03, a03, a09, a06; 10 sentences), each against before: detail-13
  +0.003 / +0.002 / +0.012 / +0.025..+0.029 / -0.007 similarity, WER 0.035 / 0.018 / 0.080 -> 0.035 /
  0.035 / 0.035, CER a09 0.097 -> 0.097 or 0.132 (two runs), a06 0.104 -> 0.111, conversion time the same:
  fast training took it in English only. sharpen +0.001..+0.006 for 7 % more conversion time: left off.
  Measured 2026-12-03 over every speaker (10 sentences), fast with the English correction averaged over 9
  frames from 8 s and detail-13, against 15 frames at every length and no detail (now fast): similarity
  -0.017..+0.002 (mean -0.008), WER a05 0.035 / 0.018 -> 0.009 / 0.018 (9 / 38 s), lv03 0.071 / 0.053 ->
  0.018 / 0.018, a02 0.018 -> 0, a01 0.053 -> 0.062, a03 0.071 -> 0.062 (stock 0 throughout).
  Coefficients from 8 on gained more (a09 +0.058) but cost words (a09 CER 0.097 -> 0.181, a05 WER +0.018).
  The stock voice is weakly periodic: DIO finds 38-55 % of its speech frames voiced (real speech 64-89 %),
  and DIO and Harvest agree on only 15-30 % of them. Voicing more of it (DIO allowed_range 0.2 / 0.3: 77 /
  90 % voiced) moved similarity by -0.030..+0.004 (a05, lv03, a03 at 12 s, 10 sentences) and WER from
  0.009 / 0.018 / 0.062 to 0.000 / 0.000 / 0.044 at 0.3; Harvest cost 0.01-0.03. Voicing the frames of
  Piper's vowels and sonorants (24 % of frames, F0 interpolated) moved a05 / lv03 / a03 / a02 by -0.010 /
  +0.014 / -0.009 / +0.021, within the run-to-run spread, WER +0.009..+0.018. Left as it is.
  What separates clone and person is not the average spectrum: matching the clone's long-term spectrum
  (voiced frames, cepstrum liftered to 8 or 20), F0 level and range or aperiodicity to the person's
  held-out speech itself moved similarity by < 0.012 (a05, a03, a09); fitted on the reference instead,
  the spectrum correction cost a05 0.012. On the reference re-synthesised by WORLD (a05 / a03 / a09:
  0.937 / 0.790 / 0.908), keeping only coefficients 0-12 gave 0.769 / 0.766 / 0.842, smoothing the
  envelope over 25 frames 0.688 / 0.717 / 0.803, a flat F0 0.860 / 0.727 / 0.872, a smoothed F0 (21 frames)
  0.914 / 0.768 / 0.884, mean aperiodicity 0.936 / 0.788 / 0.916: the per-frame fine envelope and its
  movement carry the speaker.
  Stock speech is made without sampling noise (temperature 0), so rows differ by their method alone;
  tempo rows have the stock voice say the sentences again at the speaker's rate.
  Measured 2026-12-02 and dropped from the rows: mcep-s9 (correction smoothed over 9 frames), k8-s9
  (8 frames per match), ctx4 / ctx4-s9 (4 frames of context), breath (the chosen frames' aperiodicity).
  Tried and dropped (12 s references of a05, a09, a03, 4 sentences, measured 2026-12-02):
  kNN on whisper tiny.en / base *final* encoder states (CTranslate2
  ``Whisper.encode``, kNN-VC style, 20 ms units of four WORLD frames): unintelligible (WER 0.98 on
  a05, and a05's own held-out speech matched to a05's reference came out as other words): the last
  layer is contextual and position-laden, not a per-frame phone code; and mel-cepstra normalised in
  spread as well as mean (CMVN): lower similarity and higher WER than mean normalisation alone.
  On 38 s references (a05, lv03; 6 further sentences): 4 frames of context each side moved similarity
  by under 0.005 and doubled WER (0.07 -> 0.13, 0.04 -> 0.09); smoothing over 9 or 15 frames instead of
  3 cost 0.02-0.04 similarity for no WER gain. Stock WER itself moves by 1-2 words between runs (Piper
  samples its prosody): judge WER over all 10 sentences.
- WER (English, whisper tiny.en) / CER (Mandarin, whisper base) of the spoken sentences;
- training time (samples read, checked, analysed), and per method the conversion RTF
  (analysis, matching, synthesis of the stock audio), plus the end-to-end RTF of a fast model
  (stock voice included) through ``WorldVoiceCloner.synthesize``.

The voice_ref clips (3-7 s) are too short to hold anything out: they are compared with themselves
("held-in" in the table), which flatters every method alike. Writes bench/results/voice_eval.json (or
--out) and spectrograms with F0 tracks (stock, mcep, fast, real) as bench/results/voice_<speaker>_<ref>s.png.
Timings are noisy on a busy machine: rerun on a quiet one before quoting them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from digihuman.errors import MediaRejected
from digihuman.media.audio import resample, write_wav
from digihuman.speech.asr.scoring import error_rate
from digihuman.speech.asr.whisper import WhisperRecognizer, load_audio
from digihuman.speech.tts.base import AudioChunk, SpeechOptions
from digihuman.speech.tts.catalogue import SpeechCatalogue
from digihuman.speech.voices.base import VoiceTrainOptions
from digihuman.speech.voices.conversion import Conversion, SpeakerStats, TargetFrames
from digihuman.speech.voices.features import RATE, analyse, vocode
from digihuman.speech.voices.intonation import Intonation
from digihuman.speech.voices.similarity import embed, similarity
from digihuman.speech.voices.world import (LOUDNESS, PARALLEL_SMOOTH, SOURCE_VOICES, WorldVoiceCloner, _Model,
                                           fast_conversion, speak_as)

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"

SENTENCES = {
    "en": ("I would like to book a table for two people at seven tonight.",
           "The museum opens at nine and closes early on Sundays.",
           "She bought fresh bread, cheese and apples at the market.",
           "Our train was delayed by almost an hour because of the snow.",
           "Please remember to send me the report before the meeting.",
           "He has been learning to play the piano since he was a child.",
           "The new bridge will connect both sides of the river next year.",
           "Could you tell me how to get to the nearest post office?",
           "Most of the students passed the exam with very good marks.",
           "We spent the whole weekend painting the kitchen walls white."),
    "zh": ("我想预订今晚七点两个人的位子。",
           "博物馆早上九点开门，星期天关得比较早。",
           "她在市场上买了新鲜的面包和苹果。",
           "因为下雪，我们的火车晚了将近一个小时。",
           "请记得在开会之前把报告发给我。",
           "他从小就开始学习弹钢琴。",
           "这座新桥明年将连接河的两岸。",
           "请问最近的邮局怎么走？",
           "大多数学生考试都取得了很好的成绩。",
           "我们整个周末都在把厨房的墙刷成白色。"),
}


@dataclass(frozen=True)
class Speaker:
    name: str
    path: str  # under ../shared/media
    language: str
    held_out: float  # seconds at the end kept for comparison; 0: compare with the sample itself


SPEAKERS = (
    Speaker("a05", "audio/a05_en_m_musetalk_eng_60s.wav", "en", 15.0),
    Speaker("lv03", "video/lv03_en_m_lieu_edtalk_pose_source2.mp4", "en", 15.0),
    Speaker("a09", "audio/a09_zh_f_musetalk_sun_22s.wav", "zh", 7.0),
    Speaker("v09", "video/v09_en_m_oldman_infinitetalk_ref.mp4", "en", 4.0),
    Speaker("a01", "audio/a01_en_m_hdtf_radio34.wav", "en", 3.0),
    Speaker("a02", "audio/a02_en_hdtf_radio31.wav", "en", 3.0),
    Speaker("a03", "audio/a03_en_f_latentsync_demo1.wav", "en", 3.0),
    Speaker("a06", "audio/a06_zh_f_sadtalker_chinese_news.wav", "zh", 3.0),
    Speaker("r01", "voice_ref/r01_en_m_f5tts_basic_ref_en.wav", "en", 0.0),
    Speaker("r02", "voice_ref/r02_zh_f5tts_basic_ref_zh.wav", "zh", 0.0),
    Speaker("r03", "voice_ref/r03_zh_f_cosyvoice_zero_shot_prompt.wav", "zh", 0.0),
)
METHODS = ("f0", "mcep", "par-s5", "par-s15", "par-quiet", "before", "detail-13", "sharpen", "intonation",
           "tempo", "own-0.5", "gv-1.5", "all", "fast", "full", "units", "units-timed", "units-close")
UNIT_METHODS = {"units", "units-timed", "units-close"}
UNITS_CLOSE = 1.3  # mel-cepstral distance within which units-close takes a recorded phone
DEFAULT_METHODS = ("before", "detail-13", "sharpen", "intonation", "tempo", "own-0.5", "gv-1.5", "all", "fast",
                   "full")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", nargs="*", help="names to run (default: all)")
    parser.add_argument("--sentences", type=int, default=10, help="sentences spoken per speaker (max 10)")
    parser.add_argument("--reference-s", type=float, nargs="+", default=[12.0, 60.0],
                        help="seconds of reference speech the models are built from")
    parser.add_argument("--no-full", action="store_true", help="skip full training (faster)")
    parser.add_argument("--out", default="voice_eval.json", help="file name under bench/results")
    parser.add_argument("--methods", nargs="*", default=list(DEFAULT_METHODS), choices=METHODS,
                        help="rows to measure (stock and vocoded always)")
    args = parser.parse_args()
    speakers = [s for s in SPEAKERS if not args.speakers or s.name in args.speakers]
    RESULTS.mkdir(parents=True, exist_ok=True)

    tts = SpeechCatalogue.installed()
    asr = WhisperRecognizer()
    cloner = WorldVoiceCloner(tts, asr)
    sentences = {lang: SENTENCES[lang][: args.sentences] for lang in SENTENCES}
    stock = {lang: [_stock(tts, s, SOURCE_VOICES[lang]) for s in sentences[lang]] for lang in sentences}
    stock_embeddings = {lang: embed(np.concatenate(stock[lang]), RATE) for lang in stock}
    vocoded = {lang: [vocode(analyse(a)) for a in stock[lang]] for lang in stock}
    baseline_errors = {lang: {"stock": _error(asr, stock[lang], sentences[lang], lang),
                              "vocoded": _error(asr, vocoded[lang], sentences[lang], lang)} for lang in stock}
    rows, rejected = [], {}
    for speaker in speakers:
        done = 0.0
        for seconds in sorted(args.reference_s):
            print(f"-- {speaker.name} {seconds:.0f} s", file=sys.stderr, flush=True)
            try:
                row = _evaluate(speaker, seconds, done, cloner, asr, sentences[speaker.language], stock,
                                stock_embeddings, vocoded[speaker.language], baseline_errors[speaker.language],
                                not args.no_full, set(args.methods), tts)
            except MediaRejected as e:  # the sample checks refuse it, as they would for a user
                rejected[f"{speaker.name} {seconds:.0f} s"] = str(e)
                continue
            if row is None:  # no more reference than the shorter run had
                break
            rows.append(row)
            done = row["reference_total_s"]
            (RESULTS / args.out).write_text(json.dumps(
                {"sentences": args.sentences, "rows": rows, "rejected": rejected}, indent=1, ensure_ascii=False))
    _print(rows)
    for name, reason in rejected.items():
        print(f"\n{name}: rejected: {reason}")


def _evaluate(speaker: Speaker, seconds: float, done: float, cloner: WorldVoiceCloner, asr: WhisperRecognizer,
              sentences: tuple[str, ...], stock: dict, stock_embeddings: dict, vocoded: list[np.ndarray],
              baseline: dict, full: bool, wanted: set[str], tts: SpeechCatalogue) -> dict | None:
    audio = np.asarray(load_audio(MEDIA / speaker.path), np.float32)
    cut = len(audio) - int(speaker.held_out * RATE) if speaker.held_out else len(audio)
    reference = embed(audio[cut:] if speaker.held_out else audio, RATE)
    sample_audio = audio[: min(cut, int(seconds * RATE))]
    if len(sample_audio) / RATE <= done + 1.0:
        return None
    text_path = (MEDIA / speaker.path).with_suffix(".txt")
    texts = [text_path.read_text().strip()] if text_path.is_file() and not speaker.held_out else None
    lang = speaker.language
    row: dict = {"speaker": speaker.name, "language": lang, "held_in": not speaker.held_out,
                 "reference_total_s": round(len(sample_audio) / RATE, 2),
                 "upper": similarity(embed(sample_audio, RATE), reference) if speaker.held_out else None,
                 "similarity": {}, "error": {}, "train_s": {}, "rtf": {}}
    row["similarity"]["stock"] = max(similarity(e, reference) for e in stock_embeddings.values())
    row["similarity"]["vocoded"] = similarity(embed(np.concatenate(vocoded), RATE), reference)
    row["error"].update(baseline)
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "sample.wav"
        write_wav([AudioChunk(sample_audio, RATE)], sample)
        models = {}
        for mode in ("fast", "full") if full else ("fast",):
            started = time.perf_counter()
            info = cloner.train([sample], texts, VoiceTrainOptions(train_mode=mode), Path(folder) / mode,
                                lambda p, s: None)
            row["train_s"][mode] = round(time.perf_counter() - started, 2)
            models[mode] = _Model.load(Path(folder) / mode)
        row["reference_s"] = info.speech_seconds
        row["conversion"] = {mode: model.meta["conversion"] for mode, model in models.items()}
        source, _ = cloner._source(lang)
        fast = models["fast"]
        plain = TargetFrames(fast.target.frames)
        mcep = fast_conversion(info.speech_seconds, source, plain.stats, lang)
        methods = {"f0": (plain, Conversion(warp=0.0, knn_weight=0.0), None), "mcep": (plain, mcep, None)}
        if fast.parallel is not None:
            par = replace(mcep, parallel_smooth=PARALLEL_SMOOTH[lang],
                          loudness=LOUDNESS[lang])
            methods.update({"par-s5": (plain, replace(par, parallel_smooth=5), fast.parallel),
                            "par-s15": (plain, replace(par, parallel_smooth=15), fast.parallel),
                            "par-quiet": (plain, replace(par, loudness=0.0), fast.parallel)})
        if fast.parallel is not None:
            before = replace(fast.conversion, intonation=0.0, tempo=False, own=0.0, gv=1.0, detail=0,
                             sharpen=0.0)
            variants = {"before": before, "detail-13": replace(before, detail=13),
                        "sharpen": replace(before, sharpen=0.15),
                        "intonation": replace(before, intonation=1.0),
                        "tempo": replace(before, tempo=True), "own-0.5": replace(before, own=0.5),
                        "gv-1.5": replace(before, gv=1.5),
                        "all": replace(before, intonation=1.0, tempo=True, gv=1.5)}
            methods.update({name: (fast.target, c, fast.parallel) for name, c in variants.items()})
        methods["fast"] = (fast.target, fast.conversion, fast.parallel)
        if full:
            methods["full"] = (models["full"].target, models["full"].conversion, models["full"].parallel)
        methods = {name: m for name, m in methods.items() if name in wanted or name == "fast"}
        outputs = {}
        paced = None  # the sentences said at the speaker's own rate, made once
        row["speed"] = fast.parallel.frames.speed if fast.parallel is not None else 1.0
        for name, (target, conversion, parallel) in methods.items():
            said = stock[lang]
            if conversion.tempo and parallel is not None:
                if paced is None:
                    paced = [_stock(tts, s, SOURCE_VOICES[lang], row["speed"]) for s in sentences]
                said = paced
            started = time.perf_counter()
            outputs[name] = [speak_as(a, source, target, conversion, parallel) for a in said]
            row["rtf"][name] = round((time.perf_counter() - started) / (sum(len(a) for a in said) / RATE), 3)
            row["similarity"][name] = similarity(embed(np.concatenate(outputs[name]), RATE), reference)
            if name != "f0":
                row["error"][name] = _error(asr, outputs[name], sentences, lang)
        if lang == "en" and wanted & UNIT_METHODS:
            outputs.update(_unit_selection(row, sample_audio, reference, sentences, stock[lang], source, fast, asr,
                                           tts, wanted))
        row["rtf"]["end_to_end"] = _rtf(cloner, Path(folder) / "fast", sentences)
        real = audio[cut:] if speaker.held_out else audio
        shown = {"stock voice": stock[lang][0]}
        shown.update({f"{name} (previous fast)": outputs[name][0] for name in ("before", "mcep") if name in outputs})
        shown.update({f"fast {fast.meta['conversion']}": outputs["fast"][0], "the real speaker (held out)": real})
        _spectrograms(f"{speaker.name}_{seconds:.0f}s", shown)
        # pitch style of what is compared: level (Hz), range (log-F0 sd) and phrase intonation
        tracks = {"stock": [analyse(a).f0 for a in stock[lang]], "real": [analyse(real).f0]}
        tracks.update({name: [analyse(a).f0 for a in outputs[name]] for name in ("before", "fast") if name in outputs})
        row["pitch"] = {name: _pitch_style(f0s) for name, f0s in tracks.items()}
    return row


def _unit_selection(row: dict, sample: np.ndarray, reference: np.ndarray, sentences: tuple[str, ...],
                    stock: list[np.ndarray], source: SpeakerStats, fast: _Model, asr: WhisperRecognizer,
                    tts: SpeechCatalogue, wanted: set[str]) -> dict[str, list[np.ndarray]]:
    """The ``units`` rows: the sentences said with the speaker's own recorded phones (see unit_selection.py)."""
    import unit_selection  # beside this script

    from digihuman.speech.align.english import EnglishAligner
    from digihuman.speech.voices.conversion import convert

    started = time.perf_counter()
    units = unit_selection.recorded_units(sample, asr, EnglishAligner())
    recorded = analyse(sample)
    stock_frames = [analyse(a) for a in stock]
    speech = np.concatenate([f.mcep[f.speech(), 0] for f in stock_frames])
    level = float(np.median(speech) - np.median(recorded.mcep[recorded.speech(), 0]))
    targets = [unit_selection.phone_units(_stock_phones(tts, s), len(f)) for s, f in zip(sentences, stock_frames)]
    converted = ([convert(f, source, fast.target, fast.conversion, fast.parallel) for f in stock_frames]
                 if wanted & {"units-timed", "units-close"} else [None] * len(stock))
    prepared = time.perf_counter() - started
    outputs = {}
    for name in sorted(wanted & UNIT_METHODS):
        started = time.perf_counter()
        said = []
        for wanted_units, audio, fast_frames in zip(targets, stock, converted):
            if name == "units":
                said.append(unit_selection.concatenated(wanted_units, units, recorded))
                continue
            limit = UNITS_CLOSE if name == "units-close" else None
            said.append(unit_selection.retimed(wanted_units, units, recorded, fast_frames, level, limit)[: len(audio)])
        outputs[name] = said
        seconds = sum(len(a) for a in stock) / RATE
        row["rtf"][name] = round((time.perf_counter() - started + prepared) / seconds, 3)
        row["similarity"][name] = similarity(embed(np.concatenate(said), RATE), reference)
        row["error"][name] = _error(asr, said, sentences, "en")
    return outputs


def _stock_phones(tts: SpeechCatalogue, text: str) -> tuple:
    """Piper's timed phones of a sentence said as in :func:`_stock` (no sampling noise: the same audio)."""
    phones, offset = [], 0.0
    for chunk in tts.synthesize(text, SOURCE_VOICES["en"], SpeechOptions(temperature=0.0)):
        phones += [replace(p, start=p.start + offset, end=p.end + offset) for p in chunk.phones]
        offset += len(chunk.samples) / chunk.sample_rate
    return tuple(phones)


def _pitch_style(tracks: list[np.ndarray]) -> dict:
    voiced = np.log(np.concatenate([t[t > 0] for t in tracks]))
    style = Intonation.of(tracks)
    return {"hz": round(float(np.exp(voiced.mean())), 1), "sd": round(float(voiced.std()), 3),
            **(style.to_json() if style else {})}


def _stock(tts: SpeechCatalogue, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
    chunks = list(tts.synthesize(text, voice, SpeechOptions(temperature=0.0, speed=speed)))
    return np.concatenate([resample(c.samples, c.sample_rate, RATE) for c in chunks]).astype(np.float32)


def _error(asr: WhisperRecognizer, audio: list[np.ndarray], sentences: tuple[str, ...], lang: str) -> float:
    """WER/CER over all sentences, spoken one after another with short pauses."""
    pause = np.zeros(int(0.4 * RATE), np.float32)
    joined = np.concatenate([x for a in audio for x in (a, pause)])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        write_wav([AudioChunk(joined, RATE)], path)
        heard = asr.transcribe(path, language=lang).text
    return round(error_rate(" ".join(sentences), heard, lang).rate, 3)


def _rtf(cloner: WorldVoiceCloner, model_dir: Path, sentences: tuple[str, ...]) -> float:
    list(cloner.synthesize(model_dir, sentences[0], SpeechOptions()))  # warm: models loaded, source measured
    started, seconds = time.perf_counter(), 0.0
    for sentence in sentences[:4]:
        for chunk in cloner.synthesize(model_dir, sentence, SpeechOptions()):
            seconds += len(chunk.samples) / chunk.sample_rate
    return round((time.perf_counter() - started) / seconds, 3)


def _spectrograms(name: str, audio: dict[str, np.ndarray]) -> None:
    """Spectrograms of the first 4 s of each, with their WORLD F0 tracks (Hz, right axis) drawn over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(audio), 1, figsize=(10, 2.7 * len(audio)))
    for ax, (title, samples) in zip(axes, audio.items()):
        samples = samples[: 4 * RATE]
        ax.specgram(samples + 1e-6, NFFT=512, Fs=RATE, noverlap=384, cmap="magma", vmin=-120)
        ax.set_title(title, fontsize=8)
        ax.set_ylim(0, 8000)
        f0 = analyse(samples).f0
        track = np.where(f0 > 0, f0, np.nan)
        pitch = ax.twinx()
        pitch.plot(np.arange(len(f0)) * 0.005, track, color="cyan", linewidth=1.0)
        pitch.set_ylim(50, 400)
    fig.tight_layout()
    fig.savefig(RESULTS / f"voice_{name}.png", dpi=80)
    plt.close(fig)


def _print(rows: list[dict]) -> None:
    measured = [m for m in METHODS if any(m in r["similarity"] for r in rows)]
    methods = ["stock", "vocoded", *measured]
    print("\n## Speaker similarity (GE2E cosine to held-out speech)\n")
    print("| speaker | ref s | same speaker | " + " | ".join(methods) + " | fast - stock |")
    print("|---" * (len(methods) + 4) + "|")
    for r in rows:
        sims = r["similarity"]
        upper = "held-in" if r["held_in"] else f"{r['upper']:.2f}"
        print(f"| {r['speaker']} ({r['language']}) | {r['reference_s']:.1f} | {upper} | "
              + " | ".join(f"{sims[m]:.3f}" if m in sims else "-" for m in methods)
              + f" | {sims['fast'] - sims['stock']:+.3f} |")
    print("\n## Intelligibility (WER en / CER zh)\n")
    errors = ["stock", "vocoded", *[m for m in measured if m != "f0"]]
    print("| speaker | ref s | " + " | ".join(errors) + " |")
    print("|---" * (len(errors) + 2) + "|")
    for r in rows:
        e = r["error"]
        print(f"| {r['speaker']} | {r['reference_s']:.1f} | " + " | ".join(f"{e[m]:.3f}" if m in e else "-"
                                                                        for m in errors) + " |")
    print("\n## Speed: training s, speaking rate, conversion RTF per method, end-to-end RTF (fast model)\n")
    print("| speaker | ref s | train fast s | train full s | rate | " + " | ".join(measured) + " | end to end |")
    print("|---" * (len(measured) + 6) + "|")
    for r in rows:
        t = r["rtf"]
        print(f"| {r['speaker']} | {r['reference_s']:.1f} | {r['train_s'].get('fast', 0):.1f} | "
              f"{r['train_s'].get('full', 0):.1f} | {r.get('speed', 1.0):.2f} | "
              + " | ".join(f"{t[m]:.2f}" if m in t else "-" for m in measured)
              + f" | {t['end_to_end']:.2f} |")


if __name__ == "__main__":
    main()
