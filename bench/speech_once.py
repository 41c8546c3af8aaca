"""End-to-end time of talking-head requests by where their words come from, with each task's stages.

A real ``digihuman serve`` (one worker, the real engines; see bench/render_e2e.py) renders a trained
512² avatar (lv02, first 10 s; trained by an untimed first request) saying about a minute of English:

    tts         use_voice (stock voice en-joe) with the text: the synthesiser's own phone timings
    audio+text  the same speech as an uploaded WAV (made by POST /v1/tts) with its text (``text``)
    audio       the same WAV alone: the words are recognised

The table gives each request's wall seconds (submit to success) and the stages that differ between
them (recognition, alignment, speech analysis, speech synthesis); the JSON holds every stage.
Run it against another checkout's code by putting that ``src`` first on PYTHONPATH.

    .venv/bin/python bench/speech_once.py [--modes tts,audio+text,audio] [--repeat N] [--out NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
VOICE = "en-joe"
TEXT = (
    "Good morning, and thank you for joining us today. Over the next minute I would like to walk you "
    "through three simple ideas that changed the way our team works. The first idea is to write things "
    "down. When a plan lives only in somebody's head, it changes every time it is told, and nobody can "
    "check it. A short note, shared with everyone, keeps the whole team honest. The second idea is to "
    "measure before you change anything. We used to guess where the time went, and we were usually "
    "wrong. A few numbers, taken the same way each week, told us more than hours of debate. The third "
    "idea is to finish small pieces. A large project that is almost done helps nobody, while a small "
    "piece that works can be used today. Put together, these ideas made our work calmer, faster and far "
    "more predictable. I hope they help you as much as they helped us. Thank you for listening."
)
STAGES = ("speech synthesis", "recognition", "alignment", "speech analysis", "selection")


def request(server: Any, client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """One /avatar/generation with ``body`` from submit to success."""
    from bench.render_e2e import generate

    task, wall, _ = generate(client, body)
    outputs = task["outputs"]
    return {"e2e_s": round(wall, 2), "video_s": outputs["duration_s"], "timings": outputs["timings"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="tts,audio+text,audio", help="comma-separated: tts, audio+text, audio")
    parser.add_argument("--repeat", type=int, default=1, help="requests per mode (default 1)")
    parser.add_argument("--out", default="speech_once", help="results file name, without .json")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - {"tts", "audio+text", "audio"}
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")

    import httpx

    from bench.render_e2e import KEY, Server, _upload
    from bench.render_speed import cut

    rows: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        avatar = cut(MEDIA / "video" / "lv02_fr_m_macron_dfrf_french.mp4", work / "avatar.mp4", 10.0, None)
        data_dir = work / "server" / "data"
        data_dir.mkdir(parents=True)
        with Server(data_dir) as server, httpx.Client(base_url=server.url, timeout=900,
                                                      headers={"Authorization": f"Bearer {KEY}"}) as client:
            avatar_url = _upload(client, avatar)
            voice = {"voice_engine_id": VOICE, "language": "en"}
            # trains the avatar and loads every engine: the timed requests below all reuse them
            warm = request(server, client, {"avatar_url": avatar_url,
                                            "use_voice": {**voice, "text": "Hello there."}})
            print(json.dumps({"warm-up": warm["e2e_s"]}), flush=True)
            wav = work / "speech.wav"
            spoken = client.post("/v1/tts", json={"text": TEXT, "reference_id": VOICE, "format": "wav"})
            spoken.raise_for_status()
            wav.write_bytes(spoken.content)
            audio_url = _upload(client, wav)
            bodies = {"tts": {"avatar_url": avatar_url, "use_voice": {**voice, "text": TEXT}},
                      "audio+text": {"avatar_url": avatar_url, "audio_url": audio_url, "text": TEXT},
                      "audio": {"avatar_url": avatar_url, "audio_url": audio_url}}
            for _ in range(args.repeat):
                for mode in modes:
                    row = request(server, client, bodies[mode])
                    rows.setdefault(mode, []).append(row)
                    print(json.dumps({mode: row["e2e_s"]}), flush=True)
    print(f"\n{'mode':11} {'e2e s':>7} {'video s':>7} " + " ".join(f"{s[:12]:>12}" for s in STAGES))
    for mode, runs in rows.items():
        for r in runs:
            cells = " ".join(f"{r['timings'].get(s, {}).get('wall_s', 0.0):12.2f}" for s in STAGES)
            print(f"{mode:11} {r['e2e_s']:7.1f} {r['video_s']:7.1f} {cells}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"voice": VOICE, "modes": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
