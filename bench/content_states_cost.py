"""What the whisper encoder states cost a render, end to end through the HTTP API.

Avatars trained where the state encoder is available get a mouth map that reads its states (the
speech's content); without it they get a map on the sound's own features. This runs the same code as
two servers, one with the encoder reported unavailable (so its avatars are trained sound-only), and
times the first request (training included) and a repeat (the trained avatar reused) for each, in
the order states, sound, sound, states so drifting load falls on both. Task CPU seconds come from the
task's own ``outputs.timings``; speech: a05 (looped to ``--seconds``), clips as in render_speed.py.

    .venv/bin/python bench/content_states_cost.py [--seconds 60] [--cases 512 1080p]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_e2e import KEY, Server, _upload, timed_request  # noqa: E402
from render_speed import MEDIA, RESULTS, SOURCES, cut, speech  # noqa: E402

SOUND_ONLY = "import digihuman.render.content as c\nc.available = lambda: False\n"


def _row(result: dict) -> dict:
    return {"e2e_s": result["e2e_s"], "cpu_s": round(result["timings"]["total"]["cpu_s"], 1),
            "speech_analysis_cpu_s": round(result["timings"].get("speech analysis", {}).get("cpu_s", 0.0), 1)}


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cases", nargs="+", default=["512", "1080p"], choices=sorted(SOURCES))
    args = parser.parse_args()
    rows: dict[str, dict[str, list]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sound_only").mkdir()
        (work / "sound_only" / "sitecustomize.py").write_text(SOUND_ONLY)  # imported by every server process
        audio = speech(work / "speech.wav", args.seconds)
        for case in args.cases:
            clip, width = SOURCES[case]
            video = cut(MEDIA / clip, work / f"{case}.mp4", 10.0, width)
            for variant in ("states", "sound", "sound", "states"):
                if variant == "sound":
                    os.environ["PYTHONPATH"] = str(work / "sound_only")
                else:
                    os.environ.pop("PYTHONPATH", None)
                data = Path(tempfile.mkdtemp(dir=work)) / "data"
                data.mkdir()
                with Server(data) as server, httpx.Client(base_url=server.url, timeout=900,
                                                          headers={"Authorization": f"Bearer {KEY}"}) as client:
                    audio_url, avatar_url = _upload(client, audio), _upload(client, video)
                    first = timed_request(server, client, avatar_url, audio_url)
                    repeat = timed_request(server, client, avatar_url, audio_url)
                row = {"first": _row(first), "repeat": _row(repeat), "load": round(os.getloadavg()[0], 1)}
                rows.setdefault(case, {}).setdefault(variant, []).append(row)
                print(case, variant, json.dumps(row), flush=True)
    print(f"\n{'case':6} {'request':7} {'states CPU-s':>14} {'sound CPU-s':>13} {'ratio':>6}")
    for case, variants in rows.items():
        for request in ("first", "repeat"):
            means = {v: sum(r[request]["cpu_s"] for r in runs) / len(runs) for v, runs in variants.items()}
            print(f"{case:6} {request:7} {means['states']:14.1f} {means['sound']:13.1f} "
                  f"{means['states'] / means['sound']:6.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "content_states_cost.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
