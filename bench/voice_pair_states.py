"""Fast training with whisper encoder states over whole 30 s windows, or only as far as the speech goes.

Fast training aligns the stock voice's rendition of a sample's words with the sample on whisper's
encoder states (speech/voices/parallel.py). Each sample below is trained both ways in one process
(the states of both sides padded to whisper's 30 s window, or encoded only as far as they go), then
the same sentences are spoken by each model without sampling noise (temperature 0) and compared:

- similarity: cosine of GE2E speaker embeddings between each spoken sentence and the whole sample;
- heard: what whisper hears of each sentence, and its word (character) error rate;
- train CPU-s, parallel pairs kept and the measured speaking rate.

Run from the repository root (about 3 minutes of CPU on two cores); writes
bench/results/voice_pair_states.json:

    .venv/bin/python bench/voice_pair_states.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EN = ["Please bring the blue book to the kitchen.", "Welcome to the course.",
      "We will meet again tomorrow morning."]
ZH = ["我们明天上午在会议室见面。", "今天天气很好。"]


def main() -> None:
    from digihuman.media.audio import write_wav
    from digihuman.speech.asr.scoring import error_rate
    from digihuman.speech.asr.whisper import WhisperRecognizer, load_audio
    from digihuman.speech.tts.base import AudioChunk, SpeechOptions
    from digihuman.speech.tts.catalogue import SpeechCatalogue
    from digihuman.speech.voices import world
    from digihuman.speech.voices.base import VoiceTrainOptions
    from digihuman.speech.voices.parallel import ParallelFrames
    from digihuman.speech.voices.similarity import embed
    from tests.conftest import STOCK_VOICE_FRAMES
    from tests.shared_media import shared

    root = Path(tempfile.mkdtemp())

    def piece(name: str, pattern: str, seconds: float) -> Path:
        audio = np.asarray(load_audio(shared(pattern)), np.float32)[: int(seconds * 16000)]
        path = root / f"{name}.wav"
        write_wav([AudioChunk(audio, 16000)], path)
        return path

    cases = [("a01", shared("audio/a01_*"), None), ("r01", shared("voice_ref/r01_*.wav"), None),
             ("a05-12", piece("a05", "audio/a05_*", 12.0), "en"), ("a03", shared("audio/a03_*"), None),
             ("a09-12", piece("a09", "audio/a09_*", 12.0), "zh")]
    asr = WhisperRecognizer()
    mode = {"short": False}
    whole = asr.encoder_states

    def states(samples: np.ndarray, language: str, short_tail: bool = False) -> np.ndarray:
        return whole(samples, language, short_tail=mode["short"])

    asr.encoder_states = states  # type: ignore[method-assign]
    catalogue = SpeechCatalogue.installed()
    results: dict[str, dict] = {}
    for name, path, language in cases:
        target = embed(np.asarray(load_audio(path), np.float32), 16000)
        for short in (False, True):
            mode["short"] = short
            label = f"{name}-{'short' if short else 'window'}"
            # a cloner of its own: one cloner says the same words once, and each variant must say them
            cloner = world.WorldVoiceCloner(catalogue, asr, STOCK_VOICE_FRAMES)
            started = time.process_time()
            cloner.train([path], None, VoiceTrainOptions(language=language), root / label, lambda p, s: None)
            pairs = ParallelFrames.load(root / label / "parallel.npz")
            row: dict = {"train_cpu_s": round(time.process_time() - started, 2), "pairs": len(pairs),
                         "speed": round(pairs.speed, 4), "similarity": [], "heard": [], "error_rate": []}
            spoken = "zh" if language == "zh" else "en"
            for text in ZH if spoken == "zh" else EN:
                chunks = cloner.synthesize(root / label, text, SpeechOptions(temperature=0.0))
                audio = np.concatenate([c.samples for c in chunks])
                heard = asr.transcribe(audio, spoken).text
                row["similarity"].append(round(float(embed(audio, 16000) @ target), 4))
                row["heard"].append(heard)
                row["error_rate"].append(round(error_rate(text, heard, spoken).rate, 3))
            results[label] = row
            print(label, json.dumps(row, ensure_ascii=False), flush=True)
    out = ROOT / "bench" / "results" / "voice_pair_states.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
