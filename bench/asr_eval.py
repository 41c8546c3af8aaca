"""Speech-recognition quality and speed: WER (English) / CER (Chinese) and real-time factor.

Run from the repository root:

    .venv/bin/python bench/asr_eval.py            # everything (~3 min on 2 cores)
    .venv/bin/python bench/asr_eval.py --quick    # the main table only

Clips with an exact transcript:
  voice_ref   ../shared/media/voice_ref/*.wav, transcript in the .txt beside each
  librivox    Debian pocketsphinx-testdata: /usr/share/pocketsphinx/test/data/librivox (read speech)
  cards       the same package's cards/ clips (1-4 s, "ten of clubs")
Clips with a rough, partial transcript (MANIFEST.tsv says "(partial, auto/rough)"): scored apart,
each quoted fragment against its best-matching place in the hypothesis, so words the manifest leaves
out are not errors. Clips without a transcript: speed only (and Traditional characters for Chinese).

Every clip is recognised as the server would: no language hint, so the RTF includes detection. Then
variants of the options (no VAD, hinted language, base for English, greedy, float32, no Simplified
prompt) run over the same clips, and a timing test joins LibriVox clips with 6 s pauses of faint
noise to see whether words land in the pauses and how far word edges are from the speech edges.
Prints tables and writes bench/results/asr_eval.json.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digihuman.speech.asr.scoring import ErrorRate, error_rate, fragment_error_rate
from digihuman.speech.asr.whisper import WhisperOptions, WhisperRecognizer, load_audio

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT.parent / "shared" / "media"
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
OUT = ROOT / "bench" / "results" / "asr_eval.json"
# Common characters written differently in Traditional script (each is Traditional-only), used to
# count how often Traditional leaks into Chinese output. A measuring stick, not a converter.
TRADITIONAL = set(
    "這們個說會來對時為與國過還麼後點開見問頭長東發經學體實現錢車門電話愛樂書買賣聽讀寫語認識鐘幾場處"
    "進動應該讓給從裡邊氣機關係當總變種類響覺義產業際區華歲歷親雙聲員號碼網頁萬樣儀證論細節廣視聞報導"
    "黨選戰權務師術藥醫護歡環繞輕鬆顯較熱燈劇廳麵飯館飲雞魚鳥馬龍鳳風雲灣臺紀願難題兒覽記計設許誰請謝"
    "議貝負財貨質費資賽趕跡躍軍輛輸轉辦遠適遺鄉鐵銀錯鏡間陽隊隨險雜離靜韓頂項順須頓預領額顏類飛餓駕驗"
    "驚鬧鮮黃齊齒龜兩掃惡樹橋櫃歸殺溝滿漢濟燒爭爺牆狀獎獨環現畫異療盡監碼礎禮禱積穩窮筆範築簡糧紅約"
    "級紙紛組結絕給統絲綠維網線練縣縮績罰聯職肅腦膚臉與舉舊艦藝蘇蘭號虛蟲補裝製複規視親覺觀訂認討訓"
    "託記訪設許診詞試詩話該詳認誠誤說課調談請諸護讀變讓豐貝負貢財責貴買費貼賀賓賞賴購贊趙車軌軟較載"
    "輕輪辦農邊運過達違遙鄧鄭醜釋針釣鈴鉛銅鋪鋼錄錢鍋鍵鎖鎮鐘鑰門閉問閃閒閱闆隊階陳陸陰際隱雞雙雜雖"
)


@dataclass(frozen=True)
class Clip:
    """One audio file and what is known of what it says."""

    name: str
    path: Path
    group: str  # voice_ref, librivox, cards, rough, unscored
    language: str  # the truth, "en" or "zh"
    reference: str | None = None  # exact transcript
    fragments: tuple[str, ...] = ()  # pieces of a rough transcript


def find_clips() -> list[Clip]:
    """Every clip this bench can use on this machine."""
    clips: list[Clip] = []
    voice_ref = MEDIA / "voice_ref"
    for wav in sorted(voice_ref.glob("*.wav")):
        txt = wav.with_suffix(".txt")
        if txt.is_file():
            clips.append(Clip(wav.stem, wav, "voice_ref", _language_of(wav.name), txt.read_text().strip()))
    clips += _pocketsphinx("librivox", "transcription")
    clips += _pocketsphinx("cards", "cards.transcription")
    manifest = MEDIA / "MANIFEST.tsv"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                path = MEDIA / row["file"]
                if not row["file"].startswith("audio/") or not path.is_file():
                    continue
                fragments = _rough_fragments(row.get("transcript") or "")
                group = "rough" if fragments else "unscored"
                clips.append(Clip(path.stem, path, group, _language_of(path.name), None, fragments))
    return clips


def _language_of(name: str) -> str:
    match = re.search(r"_(en|zh)_", name)
    if not match:
        raise ValueError(f"cannot tell the language of {name}")
    return match.group(1)


def _pocketsphinx(folder: str, listing: str) -> list[Clip]:
    lines = POCKETSPHINX / folder / listing
    if not lines.is_file():
        return []
    clips = []
    for line in lines.read_text().splitlines():
        match = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
        if match:
            wav = POCKETSPHINX / folder / f"{match.group(2)}.wav"
            if wav.is_file():
                name = f"{folder}/{match.group(2)[-4:]}"
                clips.append(Clip(name, wav, folder, "en", match.group(1).strip()))
    return clips


def _rough_fragments(transcript: str) -> tuple[str, ...]:
    """The quoted pieces of '(partial, auto/rough) "...a b c ... d e..."'; () when there is no quote."""
    if "(partial" not in transcript:
        return ()
    quoted = re.search(r'"(.*)"', transcript)
    if not quoted:
        return ()
    text = re.sub(r"[\[\]]", "", quoted.group(1))  # [gamer]: an unsure word, still a word
    return tuple(p.strip() for p in re.split(r"\.\.\.|…", text) if p.strip())


@dataclass
class Result:
    clip: str
    group: str
    language: str  # truth
    detected: str
    model: str
    duration: float
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time (all threads): what other load on the machine can't inflate
    text: str
    errors: int | None = None
    length: int | None = None
    traditional: int = 0

    @property
    def rtf(self) -> float:
        return self.seconds / self.duration

    @property
    def cpu_rtf(self) -> float:
        return self.cpu_seconds / self.duration

    @property
    def rate(self) -> float | None:
        return None if self.errors is None else ErrorRate(self.errors, self.length or 0).rate


def recognise(recognizer: WhisperRecognizer, clip: Clip, hint: bool) -> Result:
    start, cpu = time.perf_counter(), time.process_time()
    t = recognizer.transcribe(clip.path, clip.language if hint else None)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    score = None
    if clip.reference is not None:
        score = error_rate(clip.reference, t.text, clip.language)
    elif clip.fragments:
        score = fragment_error_rate(clip.fragments, t.text, clip.language)
    return Result(
        clip=clip.name,
        group=clip.group,
        language=clip.language,
        detected=t.language,
        model=recognizer.model_for(t.language),
        duration=t.duration,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        text=t.text,
        errors=None if score is None else score.errors,
        length=None if score is None else score.length,
        traditional=sum(ch in TRADITIONAL for ch in t.text),
    )


def warm(recognizer: WhisperRecognizer, clips: list[Clip]) -> None:
    """Load both models and assemble base, so that no clip's time includes a model load."""
    for language in ("en", "zh"):
        clip = next((c for c in clips if c.language == language), None)
        if clip is not None:
            recognizer.transcribe(clip.path, language)
    recognizer.detect_language(clips[0].path)


def summary(results: list[Result], language: str, groups: tuple[str, ...]) -> dict:
    """Mean and pooled error rate, mean RTF and detection accuracy over one language's scored clips."""
    chosen = [r for r in results if r.language == language and r.group in groups]
    scored = [r for r in chosen if r.errors is not None]
    errors = sum(r.errors or 0 for r in scored)
    length = sum(r.length or 0 for r in scored)
    audio = sum(r.duration for r in chosen)
    return {
        "clips": len(chosen),
        "mean_rate": statistics.fmean(r.rate or 0.0 for r in scored) if scored else None,
        "pooled_rate": errors / length if length else None,
        "mean_rtf": statistics.fmean(r.rtf for r in chosen) if chosen else None,
        "total_rtf": sum(r.seconds for r in chosen) / audio if chosen else None,
        "total_cpu_rtf": sum(r.cpu_seconds for r in chosen) / audio if chosen else None,
        "detected_right": sum(r.detected == r.language for r in chosen),
        "traditional_chars": sum(r.traditional for r in chosen),
    }


def table(results: list[Result]) -> str:
    head = (
        f"{'clip':<36} {'group':<9} {'lang':<6} {'model':<7} {'dur s':>6} {'RTF':>6} {'cpuRTF':>6} "
        f"{'WER/CER':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lang = r.language if r.detected == r.language else f"{r.language}!{r.detected}"
        rate = "-" if r.rate is None else f"{r.rate:.3f}"
        lines.append(
            f"{r.clip[:36]:<36} {r.group:<9} {lang:<6} {r.model:<7} {r.duration:>6.2f} {r.rtf:>6.3f} "
            f"{r.cpu_rtf:>6.3f} {rate:>8}"
        )
    return "\n".join(lines)


def timing_test(recognizer: WhisperRecognizer, clips: list[Clip], gap_s: float = 6.0) -> dict | None:
    """LibriVox clips joined by pauses of faint noise: words in the pauses, word-edge errors, WER."""
    parts = [c for c in clips if c.group == "librivox"]
    if not parts:
        return None
    audio, spans = _join(parts, gap_s)
    t, seconds, cpu_seconds = _recognise_samples(recognizer, audio)
    rate = 16_000
    in_pauses = [w for w in t.words if not any(a - 0.3 <= (w.start + w.end) / 2 <= b + 0.3 for a, b in spans)]
    onset_err, offset_err = [], []
    for a, b in spans:
        inside = [w for w in t.words if a - 1.0 <= (w.start + w.end) / 2 <= b + 1.0]
        if inside:
            onset_err.append(abs(inside[0].start - a))
            offset_err.append(abs(inside[-1].end - b))
    reference = " ".join(c.reference or "" for c in parts)
    return {
        "duration": round(len(audio) / rate, 2),
        "rtf": round(seconds / (len(audio) / rate), 4),
        "cpu_rtf": round(cpu_seconds / (len(audio) / rate), 4),
        "wer": round(error_rate(reference, t.text, "en").rate, 4),
        "words_in_pauses": len(in_pauses),
        "words_in_pauses_text": " ".join(w.text for w in in_pauses),
        "onset_error_ms": round(1000 * statistics.fmean(onset_err), 1) if onset_err else None,
        "offset_error_ms": round(1000 * statistics.fmean(offset_err), 1) if offset_err else None,
        "utterances_found": f"{len(onset_err)}/{len(spans)}",
    }


def long_chinese_test(recognizer: WhisperRecognizer, clips: list[Clip]) -> dict | None:
    """All Mandarin clips and the longest once more, joined by 2 s pauses (~80 s, past whisper's
    30 s window): Traditional characters that leak once the first window's prompt is behind, and
    CER of the clips with a transcript, each matched to its best place in the whole hypothesis."""
    parts = [c for c in clips if c.language == "zh" and c.group in ("voice_ref", "unscored")]
    if not parts:
        return None
    parts.append(max(parts, key=lambda c: c.path.stat().st_size))
    audio, _spans = _join(parts, 2.0)
    t, seconds, cpu_seconds = _recognise_samples(recognizer, audio)
    score = fragment_error_rate([c.reference for c in parts if c.reference], t.text, "zh")
    hanzi = [ch for ch in t.text if "\u4e00" <= ch <= "\u9fff"]
    return {
        "duration": round(len(audio) / 16_000, 2),
        "rtf": round(seconds / (len(audio) / 16_000), 4),
        "cpu_rtf": round(cpu_seconds / (len(audio) / 16_000), 4),
        "cer_of_referenced_parts": round(score.rate, 4),
        "characters": len(hanzi),
        "traditional": sum(ch in TRADITIONAL for ch in hanzi),
        "text": t.text,
    }


def _join(parts: list[Clip], gap_s: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The clips' audio with a pause of faint noise (-55 dBFS) before each; and each clip's speech span."""
    rng = np.random.default_rng(0)
    rate = 16_000
    pieces, spans, offset = [], [], 0.0
    for clip in parts:  # a pause first, as in a recording that starts late
        pieces.append((rng.standard_normal(int(gap_s * rate)) * 10 ** (-55 / 20)).astype(np.float32))
        offset += gap_s
        samples = load_audio(clip.path)
        onset, offset_in = _speech_edges(samples, rate)
        spans.append((offset + onset, offset + offset_in))
        pieces.append(samples)
        offset += len(samples) / rate
    return np.concatenate(pieces), spans


def _recognise_samples(recognizer: WhisperRecognizer, audio: np.ndarray):  # type: ignore[no-untyped-def]
    """Transcript, wall seconds and CPU seconds of ``audio`` (16 kHz mono) written to a WAV, no hint."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "joined.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16_000)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        start, cpu = time.perf_counter(), time.process_time()
        t = recognizer.transcribe(path, None)
        return t, time.perf_counter() - start, time.process_time() - cpu


def _speech_edges(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """First and last moment louder than 30 dB below the loudest 20 ms frame."""
    frame = rate // 50
    n = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    loud = np.flatnonzero(db > db.max() - 30)
    return loud[0] * frame / rate, (loud[-1] + 1) * frame / rate


VARIANTS: dict[str, tuple[WhisperOptions, bool]] = {
    # name: (options, pass the true language as a hint)
    "default (auto)": (WhisperOptions(), False),
    "hinted": (WhisperOptions(), True),
    "no VAD": (WhisperOptions(vad=False), False),
    "base for English": (WhisperOptions(english_model="base"), True),
    "greedy (beam 1)": (WhisperOptions(beam_size=1), False),
    "float32": (WhisperOptions(compute_type="float32"), False),
    "no zh prompt": (WhisperOptions(zh_prompt=None), True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the main table only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=None, help="where whisper base is assembled")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    clips = find_clips()
    if not clips:
        print("no clips found: ../shared/media and pocketsphinx-testdata are both missing", file=sys.stderr)
        return 1
    exact = ("voice_ref", "librivox", "cards")
    report: dict = {"options": dataclasses.asdict(WhisperOptions()), "threads": args.threads}

    recognizer = WhisperRecognizer(args.cache_dir, threads=args.threads)
    warm(recognizer, clips)
    results = [recognise(recognizer, clip, hint=False) for clip in clips]
    print(
        "Main table: default options, no language hint (lang a!b: truth a, detected b). RTF: wall time /"
        "\naudio time; cpuRTF: the process's CPU time (all threads) / audio time, which other load on"
        "\nthe machine does not inflate.\n"
    )
    print(table(results))
    means = {lang: summary(results, lang, exact) for lang in ("en", "zh")}
    rough = summary(results, "en", ("rough",))
    print("\nPer language, clips with an exact transcript (WER for en, CER for zh):")
    for lang, s in means.items():
        print(f"  {lang}: {_describe(s)}")
    print(
        "Rough partial references (a01-a03, MANIFEST '(partial, auto/rough)'; each quoted fragment vs. its"
        f"\nbest place in the hypothesis; indicative only):\n  en: {_describe(rough)}"
    )
    unscored = [r for r in results if r.group == "unscored"]
    if unscored:
        print("No transcript (speed only):")
        for r in unscored:
            print(f"  {r.clip}: {r.text[:90]}")
    report.update(
        clips=[dataclasses.asdict(r) | {"rtf": r.rtf, "cpu_rtf": r.cpu_rtf, "rate": r.rate} for r in results],
        means=means,
        rough=rough,
    )

    if not args.quick:
        variants = {}
        print("\nVariants (the same clips; rate over exact transcripts, RTF over all clips of a language):\n")
        head = (
            f"{'variant':<18} {'en WER':>7} {'en RTF':>7} {'en cpu':>7} {'en det':>7} {'zh CER':>7} "
            f"{'zh RTF':>7} {'zh cpu':>7} {'zh det':>7} {'zh trad':>7}"
        )
        print(head)
        print("-" * len(head))
        for name, (options, hint) in VARIANTS.items():
            if name == "default (auto)":
                variant_results = results
            else:
                r = WhisperRecognizer(args.cache_dir, threads=args.threads, options=options)
                warm(r, clips)
                variant_results = [recognise(r, clip, hint) for clip in clips]
            en = summary(variant_results, "en", exact)
            zh = summary(variant_results, "zh", exact)
            zh_all = summary(variant_results, "zh", (*exact, "unscored"))
            en_all = summary(variant_results, "en", (*exact, "rough", "unscored"))
            variants[name] = {"hinted": hint, "options": dataclasses.asdict(options), "en": en, "zh": zh,
                              "en_all": en_all, "zh_all": zh_all,
                              "zh_texts": {r.clip: r.text for r in variant_results if r.language == "zh"}}
            print(
                f"{name:<18} {_f(en['pooled_rate']):>7} {_f(en_all['total_rtf']):>7} "
                f"{_f(en_all['total_cpu_rtf']):>7} {en_all['detected_right']:>3}/{en_all['clips']:<3} "
                f"{_f(zh['pooled_rate']):>7} {_f(zh_all['total_rtf']):>7} {_f(zh_all['total_cpu_rtf']):>7} "
                f"{zh_all['detected_right']:>3}/{zh_all['clips']:<3} "
                f"{zh_all['traditional_chars']:>7}"
            )
        report["variants"] = variants

        print(
            "\nTiming: 5 LibriVox clips joined by 6 s pauses of noise at -55 dBFS (one 60.7 s file, no hint);"
            "\nword edges vs. speech edges (-30 dB from the loudest 20 ms frame) of each utterance:\n"
        )
        timing = {}
        for name, options in (("VAD on", WhisperOptions()), ("VAD off", WhisperOptions(vad=False))):
            r = WhisperRecognizer(args.cache_dir, threads=args.threads, options=options)
            warm(r, clips)
            timing[name] = timing_test(r, clips)
            if timing[name] is None:
                print("  (pocketsphinx-testdata is not installed)")
                break
            t = timing[name]
            print(
                f"  {name:<8} RTF {t['rtf']:.3f}  cpuRTF {t['cpu_rtf']:.3f}  WER {t['wer']:.3f}  "
                f"words in pauses {t['words_in_pauses']}  onset err {t['onset_error_ms']} ms  "
                f"offset err {t['offset_error_ms']} ms  utterances {t['utterances_found']}"
                + (f"  ({t['words_in_pauses_text']})" if t["words_in_pauses"] else "")
            )
        report["timing"] = timing

        print("\nLong Chinese: every Mandarin clip, and a09 again, joined by 2 s pauses (78.6 s, no hint):\n")
        long_zh = {}
        for name, options in (
            ("prompt every 30 s (default)", WhisperOptions()),
            ("prompt once", WhisperOptions(reprompt=False)),
            ("no prompt", WhisperOptions(zh_prompt=None)),
        ):
            r = WhisperRecognizer(args.cache_dir, threads=args.threads, options=options)
            warm(r, clips)
            long_zh[name] = z = long_chinese_test(r, clips)
            if z is None:
                print("  (no Mandarin clips)")
                break
            print(
                f"  {name:<28} RTF {z['rtf']:.3f}  cpuRTF {z['cpu_rtf']:.3f}  "
                f"CER of r02+r03 {z['cer_of_referenced_parts']:.3f}  "
                f"Traditional {z['traditional']}/{z['characters']} characters"
            )
        report["long_chinese"] = long_zh

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _describe(s: dict) -> str:
    return (
        f"{s['clips']} clips, mean {_f(s['mean_rate'])}, pooled {_f(s['pooled_rate'])}, "
        f"RTF {_f(s['total_rtf'])} (cpu {_f(s['total_cpu_rtf'])}), "
        f"language detected right {s['detected_right']}/{s['clips']}"
    )


if __name__ == "__main__":
    sys.exit(main())
