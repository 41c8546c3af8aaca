"""Wall time of a trained video avatar's render, the speech's encoder states (lip sync) computed while
the timeline is built ("overlapped", as renders run) against after it ("sequential", as before).

One avatar model (lv02, the first 10 s, 512×512) and ``--seconds`` of English speech (a05); the talking
head is built as the server builds it (the whisper recogniser gives the words). Each render decodes
the speech afresh and builds its timeline, as a high-speed render task does. One warm-up render loads
the models; then the two variants alternate ``--pairs`` times, so load on the shared CPU hits both.
Reported per render: the wall seconds until the plan is made (the ``PLANNING`` stages)
and of the whole render; and the medians' ratio.

    .venv/bin/python bench/content_overlap.py [--seconds 45] [--pairs 3]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results"
PLANNING = ("speech analysis", "recognition", "alignment", "selection")  # the stages before the frames


def render(head, model_dir: Path, audio: Path, out_dir: Path) -> dict[str, float]:  # noqa: ANN001
    from digihuman.render.base import RenderOptions
    from digihuman.speech.utterance import Speech
    from digihuman.timings import StageTimings

    timings = StageTimings()
    with timings.active():
        t0 = time.perf_counter()
        head.render(model_dir, Speech.from_file(audio), out_dir, RenderOptions(), lambda p, s: None)
        total = time.perf_counter() - t0
    stages = timings.as_dict()
    planned = sum(stages.get(s, {}).get("wall_s", 0.0) for s in PLANNING)  # nested stages count apart
    return {"plan_s": round(planned, 2), "total_s": round(total, 2),
            "stages_wall_s": {name: t["wall_s"] for name, t in stages.items()}}


def main() -> None:
    import argparse

    from render_speed import MEDIA, SOURCES, TRAIN_S, cut, speech

    from digihuman.render import video
    from digihuman.render.avatar import train_avatar
    from digihuman.render.engine import SampleTalkingHead
    from digihuman.speech.asr.whisper import WhisperRecognizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=45.0, help="speech length")
    parser.add_argument("--pairs", type=int, default=3, help="renders of each variant")
    args = parser.parse_args()
    overlapped = video.speech_content

    def variant(name: str) -> None:
        # "sequential": nothing is started beforehand, so plan_render computes the states itself
        video.speech_content = overlapped if name == "overlapped" else (lambda model, speech: None)

    rows: dict[str, list[dict[str, float]]] = {"overlapped": [], "sequential": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        audio = speech(work / "speech.wav", args.seconds)
        clip, width = SOURCES["512"]
        model_dir = work / "model"
        train_avatar(cut(MEDIA / clip, work / "512.mp4", TRAIN_S, width), model_dir)
        head = SampleTalkingHead(recognizer=WhisperRecognizer())
        render(head, model_dir, audio, work / "warm")
        for i in range(args.pairs):
            for name in (("overlapped", "sequential") if i % 2 == 0 else ("sequential", "overlapped")):
                variant(name)
                rows[name].append(render(head, model_dir, audio, work / f"{name}{i}"))
                print(name, rows[name][-1], "load", os.getloadavg()[0], flush=True)
        variant("overlapped")
    median = {name: {k: statistics.median(r[k] for r in runs) for k in ("plan_s", "total_s")}
              for name, runs in rows.items()}
    result = {"seconds": args.seconds, "runs": rows, "median": median,
              "plan_ratio": round(median["overlapped"]["plan_s"] / median["sequential"]["plan_s"], 3),
              "total_ratio": round(median["overlapped"]["total_s"] / median["sequential"]["total_s"], 3),
              "load_after": os.getloadavg()}
    print(json.dumps(result, indent=1))
    (RESULTS / "content_overlap.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
