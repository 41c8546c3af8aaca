"""Voice-sample checks: what each measure says about real speech and about music, tones and noise.

Run from the repository root:

    .venv/bin/python bench/voice_samples.py

Tables:
  1. every recording with sound in ../shared/media, and generated signals (a tone, a chord, a plucked
     melody, drums, white noise, a siren sweep, drums under a melody, a05 speech under music and
     noise at several levels): the measures (speech seconds, level, SNR, voiced, steady-pitch and
     sustained-partial shares, pauses) and the verdict (ok / warnings / rejected);
  2. speaker groups: the 2-means split of resemblyzer windows for one speaker and for two;
  3. time to check (and clean up) 8, 30 and 60 s of speech, cold (first call in the process) and warm.
Writes bench/results/voice_samples.json. Timings are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digihuman.errors import MediaRejected
from digihuman.media.audio import write_wav
from digihuman.speech.align.features import load_audio
from digihuman.speech.tts.base import AudioChunk
from digihuman.speech.voices import samples as S

R = 16000
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
OUT = Path(__file__).resolve().parent / "results" / "voice_samples.json"


def generated() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(8 * R) / R
    sig: dict[str, np.ndarray] = {"tone 440 Hz": 0.5 * np.sin(2 * np.pi * 440 * t)}
    sig["C major chord"] = 0.5 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) / 3
    melody = np.zeros_like(t)
    n = R // 4
    tt = np.arange(n) / R
    for i in range(len(t) // n):
        f = (261.6, 293.7, 329.6, 349.2, 392.0, 440.0)[rng.integers(6)]
        note = sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
        melody[i * n:(i + 1) * n] = 0.4 * note * np.exp(-6 * tt)
    sig["plucked melody"] = melody
    drums = np.zeros_like(t)
    for i in range(0, len(t), R // 4):
        k = min(R // 10, len(t) - i)
        drums[i:i + k] = rng.normal(0, 0.3, k) * np.exp(-np.arange(k) / R * 40)
    sig["drums"] = drums
    sig["white noise"] = rng.normal(0, 0.1, len(t))
    sig["siren sweep"] = 0.4 * np.sin(2 * np.pi * np.cumsum(300 + 200 * np.sin(2 * np.pi * 0.5 * t)) / R)
    sig["drums + melody"] = 0.5 * drums + 0.5 * melody
    backing = sig["C major chord"] + melody
    speech = load_audio(MEDIA / "audio" / "a05_en_m_musetalk_eng_60s.wav")[2 * R: 10 * R]
    for db in (-20, -12, -8, -5, -3):
        gain = np.sqrt(np.mean(speech**2) / np.mean(backing**2)) * 10 ** (db / 20)
        sig[f"a05 + music {db} dB"] = speech + backing * gain
    for snr in (30, 20, 10, 5):
        noise = rng.normal(0, 1, len(speech)) * np.sqrt(np.mean(speech**2)) * 10 ** (-snr / 20)
        sig[f"a05 + noise, SNR {snr} dB"] = speech + noise
    sig["digital silence"] = np.zeros(8 * R)
    sig["hiss at -70 dBFS"] = rng.normal(0, 10 ** (-70 / 20), 8 * R)
    sig["a05 clipped (x3)"] = np.clip(speech / np.max(np.abs(speech)) * 3, -1, 1)
    sig["a05 clipped (x1.5)"] = np.clip(speech / np.max(np.abs(speech)) * 1.5, -1, 1)
    return {k: v.astype(np.float32) for k, v in sig.items()}


def verdict(name: str, audio: np.ndarray, native: np.ndarray | None = None) -> dict:
    clipped = S.clipped_share(native if native is not None else audio)
    m, _ = S.measure(audio, clipped)
    try:
        warnings = S.check("it", m)
        result = "ok" + (" + warned: " + "; ".join(w.split(":")[0].removeprefix("it ") for w in warnings)
                         if warnings else "")
    except MediaRejected as e:
        result = "REJECTED: " + e.message.split(":")[0].removeprefix("it ")
    row = {"signal": name, **{k: round(float(v), 3) for k, v in vars(m).items()}, "verdict": result}
    print(f"{name[:30]:31s} {m.speech_seconds:5.1f} {m.level_dbfs:6.1f} {m.snr_db:5.1f} "
          f"{m.clipped_share:6.4f} {m.voiced_share:5.2f} {m.steady_share:5.2f} {m.sustained_share:5.2f} "
          f"{m.pause_share:5.2f}  {result}")
    return row


def main() -> int:
    if not MEDIA.is_dir():
        print(f"shared media not found at {MEDIA}", file=sys.stderr)
        return 1
    print(f"{'signal':31s} {'sp s':>5s} {'dBFS':>6s} {'SNR':>5s} {'clip':>6s} {'voic':>5s} {'stdy':>5s} "
          f"{'sust':>5s} {'pause':>5s}  verdict")
    rows = []
    for path in sorted(MEDIA.glob("*/*")):
        if path.suffix not in (".wav", ".mp4"):
            continue
        try:
            audio = load_audio(path)
        except MediaRejected:
            continue
        if audio.size:
            rows.append(verdict(path.name, audio, load_audio(path, 44100)))
    for name, audio in generated().items():
        rows.append(verdict(name, audio))

    print("\nspeaker groups (2-means over resemblyzer windows of 1.6 s)")
    a05 = load_audio(MEDIA / "audio" / "a05_en_m_musetalk_eng_60s.wav")
    lv03 = load_audio(next(MEDIA.glob("video/lv03_*")))
    cases = {
        "a05 alone (60 s)": [a05], "lv03 alone (60 s)": [lv03],
        "lv02 alone (50 s)": [load_audio(next(MEDIA.glob("video/lv02_*")))],
        "a09 alone (22 s)": [load_audio(next(MEDIA.glob("audio/a09_*")))],
        "a05 20 s + a03 (man, woman)": [a05[:20 * R], load_audio(next(MEDIA.glob("audio/a03_*")))],
        "a05 20 s + lv03 20 s (two men)": [a05[:20 * R], lv03[:20 * R]],
        "a01 + a02 (radio, two voices)": [load_audio(next(MEDIA.glob("audio/a01_*"))),
                                          load_audio(next(MEDIA.glob("audio/a02_*")))],
        "a09 + a06 (two women, zh)": [load_audio(next(MEDIA.glob("audio/a09_*"))),
                                      load_audio(next(MEDIA.glob("audio/a06_*")))],
    }
    speakers = []
    for name, parts in cases.items():
        windows = S.speaker_embeddings(parts)
        share, cosine = S.two_voices(windows)
        warned = S.several_speakers(parts) is not None
        speakers.append({"case": name, "windows": len(windows), "minor_share": round(share, 2),
                         "cosine": round(cosine, 3), "warned": warned})
        print(f"  {name:32s} windows {len(windows):3d}  smaller group {share:.2f}  cosine {cosine:.2f}  "
              f"{'WARN' if warned else 'one voice'}")

    print("\ntime to check samples (load_samples)")
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        for seconds in (8, 30, 60):
            path = Path(folder) / f"a05_{seconds}.wav"
            write_wav([AudioChunk(a05[: seconds * R], R)], path)
            for enhance in (False, True):
                started = time.perf_counter()
                result = S.load_samples([path], None, enhance=enhance)
                took = time.perf_counter() - started
                timings.append({"seconds": seconds, "enhance": enhance, "s": round(took, 2),
                                "speech_seconds": result.speech_seconds})
                print(f"  {seconds:3d} s  enhance={enhance!s:5s}  {took:5.2f} s  "
                      f"(speech {result.speech_seconds} s)")
    print("  (the first call includes loading the speaker encoder and the first speaker embedding)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"signals": rows, "speakers": speakers, "timings": timings}, indent=1,
                              ensure_ascii=False))
    print(f"\nwrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
