"""Live avatar bench: a real server streams a real avatar over its WebSocket; how well does it keep time?

Through the HTTP API of a real ``digihuman serve`` (real engines, one worker process for training), on an
avatar trained from a real talking video (create_model_fast):

- sustained: one session (512 px, 25 fps) watched for ``--minutes``, saying a sentence every
  ``--say-every`` seconds: frames per second received, the longest gap between two fragments (a stall:
  200 ms is the chunk period), the server process's CPU use;
- latency: POST /v1/live/{id}/say → the "speaking" event on the socket (the event travels just before
  the first fragment that speaks), p50 / p95 over every say of the sustained run;
- concurrency: 1, 2, … sessions at once at each ``--sizes``, each saying a sentence, every one watched:
  the lowest per-session frame rate over a ``--window`` s window; a count "holds" when every session
  keeps ≥ 24 fps (a 25 fps stream within 4 %).

The machine may be shared (other work running): read the figures with the load average printed beside them.

    .venv/bin/python bench/live_eval.py --minutes 2
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_e2e import KEY, Server, _upload  # noqa: E402 - bench scripts are run as files

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
RESULTS = Path(__file__).resolve().parent / "results" / "live_eval.json"
SENTENCES = (
    "Hello, and welcome to the live avatar.",
    "I can answer questions while you watch.",
    "Every sentence is spoken as soon as it is ready.",
    "Let me tell you a little about today's weather.",
)
HOLD_FPS = 24.0


class Watcher(threading.Thread):
    """One WebSocket client: when each fragment arrived and how many frames it held, and the events."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.fragments: list[tuple[float, int]] = []  # (arrival, video frames)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.bytes = 0
        self.error: str | None = None
        self._halt = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        import httpx
        from httpx_ws import connect_ws
        from wsproto.events import BytesMessage, CloseConnection, TextMessage

        from digihuman.live.fmp4 import video_samples

        try:
            with httpx.Client(timeout=30) as client, connect_ws(
                    self.url, client, max_message_size_bytes=16 << 20, keepalive_ping_interval_seconds=None) as ws:
                self.ready.set()
                while not self._halt.is_set():
                    try:
                        event = ws.receive(timeout=1.0)
                    except (TimeoutError, queue.Empty):  # httpx-ws raises queue.Empty on a timeout
                        continue
                    now = time.monotonic()
                    if isinstance(event, BytesMessage):
                        self.bytes += len(event.data)
                        self.fragments.append((now, video_samples(bytes(event.data))))
                    elif isinstance(event, TextMessage):
                        self.events.append((now, json.loads(event.data)))
                    elif isinstance(event, CloseConnection):
                        return
        except Exception as e:  # noqa: BLE001 - reported in the results
            self.error = f"{type(e).__name__}: {e}"
            self.ready.set()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def fps(self, start: float, end: float) -> float:
        return sum(n for t, n in self.fragments if start <= t < end) / (end - start)

    def longest_gap(self, start: float, end: float) -> float:
        times = [t for t, _ in self.fragments if start <= t < end]
        return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def train(client: Any, video: Path) -> str:
    url = _upload(client, video)
    r = client.post("/agent_api.php", data={"act": "create_model_fast", "model_name": video.stem, "video_url": url})
    r.raise_for_status()
    data = r.json()["data"]
    while True:
        task = client.get(f"/v1/tasks/{data['task_id']}").json()["data"]
        if task["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(1.0)
    if task["status"] != "succeeded":
        raise RuntimeError(f"training failed: {task['error']}")
    return data["model"]["model_id"]


def start_session(client: Any, avatar_id: str, size: int) -> tuple[str, Watcher]:
    r = client.post("/v1/live", json={"avatar_id": avatar_id, "size": size, "fps": 25})
    if r.status_code != 200:
        raise RuntimeError(f"POST /v1/live: {r.status_code} {r.text}")
    data = r.json()["data"]
    watcher = Watcher(data["ws_url"])
    watcher.start()
    watcher.ready.wait(30)
    if watcher.error:
        raise RuntimeError(f"socket: {watcher.error}")
    return data["session_id"], watcher


def say(client: Any, session_id: str, text: str) -> float:
    t = time.monotonic()
    client.post(f"/v1/live/{session_id}/say", json={"text": text}).raise_for_status()
    return t


def latencies(watcher: Watcher, said: list[float]) -> list[float]:
    out = []
    for t in said:
        after = [at for at, e in watcher.events if e["type"] == "speaking" and at >= t]
        if after:
            out.append(after[0] - t)
    return out


def percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return round(float(np.percentile(values, q)), 3) if values else None


def sustained(client: Any, server: Server, avatar_id: str, minutes: float, say_every: float) -> dict[str, Any]:
    session_id, watcher = start_session(client, avatar_id, 512)
    time.sleep(2.0)  # the first chunks: imports, the first decode
    start, cpu0 = time.monotonic(), cpu_seconds(server.proc.pid)
    said: list[float] = []
    end = start + minutes * 60
    per_minute = []
    next_say, minute_start = start, start
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_say:
            said.append(say(client, session_id, SENTENCES[len(said) % len(SENTENCES)]))
            next_say += say_every
        if now - minute_start >= 60:
            per_minute.append(round(watcher.fps(minute_start, now), 2))
            minute_start = now
        time.sleep(0.1)
    stop = time.monotonic()
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / (stop - start)
    time.sleep(3.0)  # the last say's events
    watcher.stop()
    client.delete(f"/v1/live/{session_id}")
    lat = latencies(watcher, said)
    return {"minutes": minutes, "fps": round(watcher.fps(start, stop), 2), "fps_per_minute": per_minute,
            "longest_stall_s": round(watcher.longest_gap(start, stop), 3),
            "stalls_over_0_5s": sum(1 for (a, _), (b, _) in zip(watcher.fragments, watcher.fragments[1:])
                                    if start <= a < stop and b - a > 0.5),
            "server_cpu_cores": round(cpu, 2), "mbit_s": round(watcher.bytes * 8 / (stop - start) / 1e6, 2),
            "says": len(said), "say_to_speaking_p50_s": percentile(lat, 50),
            "say_to_speaking_p95_s": percentile(lat, 95), "say_latencies_s": [round(x, 3) for x in lat],
            "socket_error": watcher.error}


def concurrency(client: Any, server: Server, avatar_id: str, size: int, most: int, window: float) -> list[dict]:
    rows = []
    for count in range(1, most + 1):
        sessions = [start_session(client, avatar_id, size) for _ in range(count)]
        time.sleep(3.0)
        for i, (sid, _) in enumerate(sessions):
            say(client, sid, SENTENCES[i % len(SENTENCES)])
        start, cpu0 = time.monotonic(), cpu_seconds(server.proc.pid)
        time.sleep(window)
        stop = time.monotonic()
        cpu = (cpu_seconds(server.proc.pid) - cpu0) / (stop - start)
        fps = [w.fps(start, stop) for _, w in sessions]
        gaps = [w.longest_gap(start, stop) for _, w in sessions]
        for sid, watcher in sessions:
            watcher.stop()
            client.delete(f"/v1/live/{sid}")
        row = {"size": size, "sessions": count, "min_fps": round(min(fps), 2), "mean_fps": round(sum(fps) / count, 2),
               "longest_stall_s": round(max(gaps), 3), "server_cpu_cores": round(cpu, 2),
               "holds_25fps": min(fps) >= HOLD_FPS}
        rows.append(row)
        print(f"  {size:4d} px  {count} session(s): min {row['min_fps']:5.2f} fps, stall {row['longest_stall_s']:.2f} s, "
              f"CPU {row['server_cpu_cores']:.2f} cores", flush=True)
        if not row["holds_25fps"]:
            break
        time.sleep(2.0)
    return rows


def plan_agreement(model_dir: Path, audio: Path, seconds: float = 30.0) -> dict[str, Any]:
    """Streamed audio is planned in blocks (1 s, then 0.5 s, each with 0.3 s of context): how close are
    the mouths it chooses to the mouths an offline render of the same audio chooses in one plan? Both
    use the acoustic timeline (streamed audio has no text), so only the blocking differs. Reported as
    Pearson r of the chosen mouths' opening, frame by frame, and of their 5-frame means."""
    import numpy as np

    from digihuman.live.session import BLOCK_S, FIRST_BLOCK_S
    from digihuman.live.speech import CONTEXT_S, RATE, MouthPlanner
    from digihuman.render.avatar import AvatarModel
    from digihuman.render.video import plan_render
    from digihuman.speech.align import mouth_track
    from digihuman.speech.align.features import load_audio
    from digihuman.speech.align.timeline import default_builder

    model = AvatarModel.load(model_dir)
    samples = load_audio(audio)[: int(seconds * RATE)]
    timeline = default_builder().from_samples(samples)
    offline = plan_render(model, samples, timeline, mouth_track(timeline, model.fps)).mouth
    planner, fps = MouthPlanner(model), model.fps
    live: list[int] = []
    context, pos = np.zeros(0, np.float32), 0
    while pos < len(samples):
        block = samples[pos: pos + int((BLOCK_S if pos else FIRST_BLOCK_S) * RATE)]
        utterance = planner.block(block, context, int(pos / RATE * fps), 0, announce=pos == 0)
        for k in range(int(round(pos / RATE * fps)), int(round((pos + len(block)) / RATE * fps))):
            live.append(utterance.mouth_at(k / fps - pos / RATE))
        context = np.concatenate([context, block])[-int(CONTEXT_S * RATE):]
        pos += len(block)
    n = min(len(offline), len(live))
    opening = model.arrays["descriptors"][:, 0]
    a, b = opening[offline[:n]], opening[np.array(live[:n])]
    smooth = np.ones(5) / 5
    return {"audio": audio.name, "seconds": round(n / fps, 1),
            "opening_r": round(float(np.corrcoef(a, b)[0, 1]), 3),
            "opening_r_5frame": round(float(np.corrcoef(np.convolve(a, smooth, "valid"),
                                                         np.convolve(b, smooth, "valid"))[0, 1]), 3),
            "same_mouth_share": round(float(np.mean(offline[:n] == np.array(live[:n]))), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the sustained run (default 10)")
    parser.add_argument("--say-every", type=float, default=12.0, help="seconds between sentences in the sustained run")
    parser.add_argument("--video", type=Path, default=None, help="avatar training video (default: shared v09)")
    parser.add_argument("--sizes", default="512,384", help="stream sizes of the concurrency runs")
    parser.add_argument("--max-sessions", type=int, default=4, help="most sessions tried at once")
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per concurrency step")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import httpx

    video = args.video or sorted(MEDIA.glob("video/v09*.mp4"))[0]
    os.environ["DIGIHUMAN_LIVE__MAX_SESSIONS_PER_KEY"] = str(args.max_sessions)
    os.environ["DIGIHUMAN_LIVE__MAX_SESSIONS"] = str(args.max_sessions)
    results: dict[str, Any] = {"video": video.name, "cores": os.cpu_count(), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="live-eval-") as tmp, Server(Path(tmp) / "data") as server, \
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as client:
        t = time.monotonic()
        avatar_id = train(client, video)
        results["training_s"] = round(time.monotonic() - t, 1)
        print(f"avatar trained from {video.name} in {results['training_s']} s", flush=True)
        model_dir = next(server.data_dir.rglob(f"avatars/{avatar_id}/manifest.json")).parent
        results["streamed_vs_offline_plan"] = plan_agreement(model_dir, sorted(MEDIA.glob("audio/a05*"))[0])
        print("streamed audio vs offline plan:", json.dumps(results["streamed_vs_offline_plan"]), flush=True)
        results["sustained"] = sustained(client, server, avatar_id, args.minutes, args.say_every)
        print("sustained:", json.dumps({k: v for k, v in results["sustained"].items() if k != "say_latencies_s"}),
              flush=True)
        results["concurrency"] = []
        for size in (int(s) for s in args.sizes.split(",")):
            results["concurrency"] += concurrency(client, server, avatar_id, size, args.max_sessions, args.window)
    results["load_after"] = os.getloadavg()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")
    return 0


def print_table(r: dict[str, Any]) -> None:
    s = r["sustained"]
    print(f"\nLive avatar, {r['video']}, {r['cores']} cores, load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}")
    print(f"{'sustained 512 px @ 25 fps':32s} {s['fps']:6.2f} fps over {s['minutes']:g} min, "
          f"longest stall {s['longest_stall_s']:.2f} s, {s['stalls_over_0_5s']} gaps > 0.5 s")
    print(f"{'server CPU':32s} {s['server_cpu_cores']:6.2f} cores   {s['mbit_s']:.2f} Mbit/s")
    print(f"{'say -> speaking p50 / p95':32s} {s['say_to_speaking_p50_s']} / {s['say_to_speaking_p95_s']} s "
          f"({s['says']} says)")
    a = r["streamed_vs_offline_plan"]
    print(f"{'streamed audio vs offline plan':32s} opening r {a['opening_r']} (5-frame {a['opening_r_5frame']}), "
          f"same mouth {a['same_mouth_share']:.0%} over {a['seconds']} s of {a['audio']}")
    for size in sorted({c["size"] for c in r["concurrency"]}, reverse=True):
        held = [c["sessions"] for c in r["concurrency"] if c["size"] == size and c["holds_25fps"]]
        steps = ", ".join(f"{c['sessions']}: {c['min_fps']:.1f}" for c in r["concurrency"] if c["size"] == size)
        print(f"{f'sessions holding 25 fps @ {size}':32s} {max(held, default=0):6d}   (min fps by count: {steps})")


if __name__ == "__main__":
    raise SystemExit(main())
