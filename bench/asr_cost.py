"""Where speech recognition spends its CPU, and what cheaper decoding options cost in words.

Run from the repository root:

    .venv/bin/python bench/asr_cost.py                 # split + variants + WER/CER (~15 min on 2 cores)
    .venv/bin/python bench/asr_cost.py --split-only    # the CPU split of the default options only

Two minutes of test speech: 60 s of English (a05) and 60 s of Mandarin (a06, a07, a09 and the two
Mandarin voice samples joined by 0.4 s pauses, repeated up to 60 s), each recognised as a render
without known text does (no language hint, so detection is included). The process CPU time (all
threads, ``time.process_time``) of one ``transcribe`` is split by wrapping the stages:

    vad          silero speech detection (ours and faster-whisper's own pass)
    features     log-mel spectrograms
    encoder      whisper's encoder
    decoder      beam search, temperature fallbacks included (``Whisper.generate``)
    word times   cross-attention alignment and faster-whisper's word grouping (``add_word_timestamps``)
    language     language detection (base's encoder over 12 s of speech + its language head)
    rest         everything else: faster-whisper's segment loop, tokenizer, our words and checks

Each variant (one changed option) then runs over the same two minutes, side by side with the default,
and over the clips with exact transcripts that ``bench/asr_eval.py`` scores (WER en, CER zh); its
60 s texts are compared with the first variant's. Writes bench/results/asr_cost.json.

Measured and left out of the product (60 s en / zh, process CPU against beam 5; "vs beam 5": words or
characters of the 60 s text that differ):
  without_timestamps=True      0.91x / 1.47x  WER 0.059 -> 0.267 (whole sentences dropped); zh re-encodes
  BatchedInferencePipeline     0.70x / 0.74x  30 of 160 words vs beam 5 (a 15-word sentence and a tail
                                              dropped), 25 of 234 characters; text-only batches dropped
                                              a whole 20 s Mandarin piece (105 of 234)
  word_timestamps=False        at most the "word times" share: 1.0 of 13.1 / 2.4 of 29.6 CPU-s; the
                                              English aligner cuts its chunks at whisper's word gaps and
                                              Mandarin is timed by them, so not tried
  sharing encoder output with render/content.py: content encodes plain 30 s windows of the whole
    audio with tiny.en; recognition encodes VAD-joined speech at seeks set by the last word (English)
    or base on prompted pieces (Mandarin): no window is the same
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asr_eval import MEDIA, ROOT, find_clips, recognise, summary  # noqa: E402

from digihuman.speech.asr import whisper as whisper_module  # noqa: E402
from digihuman.speech.asr.scoring import error_rate  # noqa: E402
from digihuman.speech.asr.whisper import (SAMPLE_RATE, WhisperOptions, WhisperRecognizer,  # noqa: E402
                                          load_audio)

OUT = ROOT / "bench" / "results" / "asr_cost.json"
STAGES = ("vad", "features", "encoder", "decoder", "word times", "language", "rest")
VARIANTS = {
    "beam 5": WhisperOptions(beam_size=5),
    "default": WhisperOptions(),
    "beam 2": WhisperOptions(beam_size=2),
}


class Meter:
    """Process CPU seconds per stage; a stage entered inside a 'sticky' one counts as the outer one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.stack: list[str] = []
        self.mark = time.process_time()

    def _switch(self) -> None:
        now = time.process_time()
        if self.stack:
            self.seconds[self.stack[-1]] += now - self.mark
        self.mark = now

    def timed(self, stage: str, fn, sticky: bool = False):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if self.stack and self.stack[-1] in ("language", "word times") and not sticky:
                return fn(*args, **kwargs)  # counted with the outer stage
            self._switch()
            self.stack.append(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self._switch()
                self.stack.pop()
        return wrapper

    def run(self, fn):  # type: ignore[no-untyped-def]
        self.seconds.clear()
        self.stack = ["rest"]
        self.mark = time.process_time()
        start = time.process_time()
        wall = time.perf_counter()
        out = fn()
        self._switch()
        self.stack = []
        total = time.process_time() - start
        return out, total, time.perf_counter() - wall


class _Proxy:
    """Delegates every attribute to ``inner`` except the methods given."""

    def __init__(self, inner, **methods) -> None:  # type: ignore[no-untyped-def]
        object.__setattr__(self, "_inner", inner)
        for name, fn in methods.items():
            object.__setattr__(self, name, fn)

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)


class _Features(_Proxy):
    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self._call(*args, **kwargs)


def instrument(meter: Meter) -> None:
    """Wrap faster-whisper's stages (module-wide, and in every model loaded from now on)."""
    import faster_whisper.transcribe as fw
    import faster_whisper.vad as vad

    timed_vad = meter.timed("vad", vad.get_speech_timestamps)
    vad.get_speech_timestamps = timed_vad
    fw.get_speech_timestamps = timed_vad
    fw.WhisperModel.add_word_timestamps = meter.timed("word times", fw.WhisperModel.add_word_timestamps,
                                                      sticky=True)
    WhisperRecognizer._detect = meter.timed("language", WhisperRecognizer._detect, sticky=True)
    original = whisper_module._loaded

    def loaded(folder, compute_type, threads):  # type: ignore[no-untyped-def]
        model = original(folder, compute_type, threads)
        if not isinstance(model.model, _Proxy):
            ct = model.model
            model.model = _Proxy(ct, encode=meter.timed("encoder", ct.encode),
                                 generate=meter.timed("decoder", ct.generate),
                                 align=meter.timed("word times", ct.align),
                                 detect_language=meter.timed("language", ct.detect_language))
            fe = model.feature_extractor
            model.feature_extractor = _Features(fe, _call=meter.timed("features", fe.__call__))
        return model

    whisper_module._loaded = loaded


def test_speech() -> dict[str, np.ndarray]:
    """60 s of English and 60 s of Mandarin, mono 16 kHz."""
    en = load_audio(MEDIA / "audio" / "a05_en_m_musetalk_eng_60s.wav")
    parts = [load_audio(MEDIA / "audio" / f"{name}.wav") for name in (
        "a06_zh_f_sadtalker_chinese_news", "a07_zh_f_sadtalker_bus_chinese", "a09_zh_f_musetalk_sun_22s")]
    parts += [load_audio(p) for p in sorted((MEDIA / "voice_ref").glob("r0*_zh*.wav"))]
    pause = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
    joined: list[np.ndarray] = []
    while sum(len(p) for p in joined) < 60 * SAMPLE_RATE:
        for p in parts:
            joined += [p, pause]
    zh = np.concatenate(joined)[: 60 * SAMPLE_RATE]
    return {"en": en[: 60 * SAMPLE_RATE], "zh": zh}


def split(meter: Meter, recognizer: WhisperRecognizer, samples: np.ndarray) -> dict:
    transcript, total, wall = meter.run(lambda: recognizer.transcribe(samples))
    stages = {s: round(meter.seconds.get(s, 0.0), 3) for s in STAGES}
    return {"cpu_s": round(total, 3), "wall_s": round(wall, 3), "stages": stages,
            "language": transcript.language, "text": transcript.text, "words": len(transcript.words)}


def _line(name: str, lang: str, r: dict) -> str:
    s = r["stages"]
    return (f"{name:<20} {lang} cpu {r['cpu_s']:6.2f}  wall {r['wall_s']:6.2f}  "
            + "  ".join(f"{k} {s[k]:.2f}" for k in STAGES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split-only", action="store_true")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    meter = Meter()
    instrument(meter)
    speech = test_speech()
    names = ["default"] if args.split_only else list(dict.fromkeys(args.variants))
    recognizers = {n: WhisperRecognizer(threads=2, options=VARIANTS[n]) for n in names}
    for r in recognizers.values():  # load both models before any timing
        r.transcribe(speech["en"][: 5 * SAMPLE_RATE], "en")
        r.transcribe(speech["zh"][: 5 * SAMPLE_RATE], "zh")
    report: dict = {"load": _load(), "variants": {}}
    print(f"load before: {report['load']}")
    # Two rounds, variants interleaved, so that other load on the machine falls on all of them alike.
    rounds: dict = {n: {"en": [], "zh": []} for n in names}
    for _ in range(args.rounds):
        for n in names:
            for lang in ("en", "zh"):
                rounds[n][lang].append(split(meter, recognizers[n], speech[lang]))
                print(_line(n, lang, rounds[n][lang][-1]), flush=True)
    for n in names:
        entry: dict = {"options": dataclasses.asdict(VARIANTS[n])}
        for lang in ("en", "zh"):
            runs = rounds[n][lang]
            best = min(runs, key=lambda r: r["cpu_s"])
            entry[lang] = best | {"cpu_runs": [r["cpu_s"] for r in runs]}
        report["variants"][n] = entry
    if not args.split_only:
        clips = [c for c in find_clips() if c.group in ("voice_ref", "librivox", "cards")]
        for n in names:
            results = [recognise(recognizers[n], c, hint=False) for c in clips]
            en = summary(results, "en", ("voice_ref", "librivox", "cards"))
            zh = summary(results, "zh", ("voice_ref",))
            report["variants"][n]["wer_en"] = en["pooled_rate"]
            report["variants"][n]["cer_zh"] = zh["pooled_rate"]
            report["variants"][n]["texts"] = {r.clip: r.text for r in results}
            print(f"{n:<20} WER en {en['pooled_rate']:.4f} ({en['clips']} clips)  "
                  f"CER zh {zh['pooled_rate']:.4f} "
                  f"({zh['clips']} clips)", flush=True)
        base = report["variants"][names[0]]
        for n in names:
            v = report["variants"][n]
            same = {lang: v[lang]["text"] == base[lang]["text"] for lang in ("en", "zh")}
            v["same_60s_text"] = same
            differ = {lang: error_rate(base[lang]["text"], v[lang]["text"], lang) for lang in ("en", "zh")}
            v["vs_first"] = {lang: [e.errors, e.length] for lang, e in differ.items()}
            print(f"{n:<20} cpu en {v['en']['cpu_s'] / base['en']['cpu_s']:.2f}x  zh "
                  f"{v['zh']['cpu_s'] / base['zh']['cpu_s']:.2f}x  same 60 s text {same}  differing "
                  + "  ".join(f"{lang} {e.errors}/{e.length}" for lang, e in differ.items()))
    report["load_after"] = _load()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}; load after: {report['load_after']}")
    return 0


def _load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


if __name__ == "__main__":
    raise SystemExit(main())
