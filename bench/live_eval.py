"""Live avatar bench: a real server streams a real avatar over its WebSocket; how well does it keep time?

Through the HTTP API of a real ``digihuman serve`` (real engines, one worker process for training), on an
avatar trained from a real talking video (create_model_fast):

- sustained: one session (512 px, 25 fps) watched for ``--minutes``, saying a sentence every
  ``--say-every`` seconds: frames per second received, the longest gap between two fragments (a stall:
  200 ms is the chunk period), the server process's CPU use;
- latency: POST /v1/live/{id}/say → the "speaking" event on the socket, and → the arrival of the first
  frame whose sound is speech (found in the received stream's own audio track: what a viewer waits for,
  however long the muxer holds frames after the event), p50 / p95 over every say of the sustained run;
- chat: a session with ``--chat-model`` (the bundled local model by default), ``--chats`` questions each sent
  once the last answer has ended: POST /v1/live/{id}/chat (the end of the user's turn) → "speaking";
- streamed vs offline mouth: ``--mouth-seconds`` of a05 streamed over the socket as a microphone would
  (audio_start, 100 ms of PCM every 100 ms, audio_end); the received fragmented MP4 is decoded and its face
  tracked, as is an offline render of the same audio planned the same way (acoustic timeline, one plan):
  Pearson r of the mouth opening seen in the two videos, frame by frame from the first streamed frame that
  speaks (and at the best lag within ±6 frames), so blocking, compositing and encoding all count;
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
QUESTIONS = (
    "What is the capital of France?",
    "Can you recommend a good book?",
    "How do I make a cup of tea?",
    "What should I do this weekend?",
)
HOLD_FPS = 24.0


def _plan_ablation() -> list[Any]:
    from digihuman.live.blocks import BlockOptions

    return [BlockOptions(context_s=0.3, lookahead_s=0.0), BlockOptions(lookahead_s=0.0),
            BlockOptions(lookahead_s=0.1), BlockOptions(lookahead_s=0.3), BlockOptions(context_s=2.0)]


def lookahead_in_use(asked: float | None) -> float:
    from digihuman.config import LiveSettings

    return LiveSettings().audio_lookahead_s if asked is None else asked


class Watcher(threading.Thread):
    """One WebSocket client: when each fragment arrived and how many frames it held, and the events;
    optionally keeps the stream's bytes and sends messages (``send``) between receptions."""

    def __init__(self, url: str, keep: bool = False) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.fragments: list[tuple[float, int]] = []  # (arrival, video frames)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.event_frames: list[int] = []  # video frames received before each event
        self.data: list[bytes] | None = [] if keep else None
        self.bytes = 0
        self.error: str | None = None
        self._halt = threading.Event()
        self._outgoing: queue.Queue[str | bytes] = queue.Queue()
        self.ready = threading.Event()

    def send(self, message: str | bytes) -> None:
        self._outgoing.put(message)

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
                    while not self._outgoing.empty():
                        message = self._outgoing.get()
                        if isinstance(message, bytes):
                            ws.send_bytes(message)
                        else:
                            ws.send_text(message)
                    try:
                        event = ws.receive(timeout=0.02)
                    except (TimeoutError, queue.Empty):  # httpx-ws raises queue.Empty on a timeout
                        continue
                    now = time.monotonic()
                    if isinstance(event, BytesMessage):
                        self.bytes += len(event.data)
                        self.fragments.append((now, video_samples(bytes(event.data))))
                        if self.data is not None:
                            self.data.append(bytes(event.data))
                    elif isinstance(event, TextMessage):
                        self.events.append((now, json.loads(event.data)))
                        self.event_frames.append(sum(n for _, n in self.fragments))
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


def start_session(client: Any, avatar_id: str, size: int, keep: bool = False,
                  **body: Any) -> tuple[str, Watcher]:
    r = client.post("/v1/live", json={"avatar_id": avatar_id, "size": size, "fps": 25, **body})
    if r.status_code != 200:
        raise RuntimeError(f"POST /v1/live: {r.status_code} {r.text}")
    data = r.json()["data"]
    watcher = Watcher(data["ws_url"], keep)
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
    """Seconds from each request to the first "speaking" event after it."""
    out = []
    for t in said:
        after = [at for at, e in watcher.events if e["type"] == "speaking" and at >= t]
        if after:
            out.append(after[0] - t)
    return out


def percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return round(float(np.percentile(values, q)), 3) if values else None


def heard_latencies(watcher: Watcher, said: list[float], work: Path) -> list[float]:
    """Seconds from each request to the arrival of the first frame after its "speaking" event whose
    sound (in the stream's audio track) is speech."""
    import numpy as np

    from digihuman.live.speech import RATE

    assert watcher.data is not None
    path = work / "sustained.mp4"
    path.write_bytes(b"".join(watcher.data))
    times, track = decoded_media(path)
    arrivals = np.array([t for t, _ in watcher.fragments])
    received = np.cumsum([n for _, n in watcher.fragments])  # frames received once each fragment came
    out = []
    for t in said:
        after = [k for (at, e), k in zip(watcher.events, watcher.event_frames)
                 if e["type"] == "speaking" and at >= t]
        if not after:
            continue
        for i in range(after[0], len(times)):
            a = int(times[i] * RATE)
            if float(np.sqrt(np.mean(track[a: a + RATE // 25] ** 2) + 1e-12)) > 0.01:
                arrived = int(np.searchsorted(received, i + 1))  # the fragment that brought frame i
                if arrived < len(arrivals):
                    out.append(float(arrivals[arrived]) - t)
                break
    return out


def sustained(client: Any, server: Server, avatar_id: str, minutes: float, say_every: float,
              work: Path) -> dict[str, Any]:
    session_id, watcher = start_session(client, avatar_id, 512, keep=True)
    time.sleep(2.0)  # the first chunks: imports, the first decode
    start, cpu0 = time.monotonic(), cpu_seconds(server.proc.pid)
    said: list[float] = []
    end = start + minutes * 60
    per_minute, load_per_minute = [], []
    next_say, minute_start = start, start
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_say:
            said.append(say(client, session_id, SENTENCES[len(said) % len(SENTENCES)]))
            next_say += say_every
        if now - minute_start >= 60:
            per_minute.append(round(watcher.fps(minute_start, now), 2))
            load_per_minute.append(round(os.getloadavg()[0], 2))  # the machine may be shared
            minute_start = now
        time.sleep(0.1)
    stop = time.monotonic()
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / (stop - start)
    time.sleep(3.0)  # the last say's events
    watcher.stop()
    client.delete(f"/v1/live/{session_id}")
    lat = latencies(watcher, said)
    heard = heard_latencies(watcher, said, work)
    watcher.data = None
    return {"minutes": minutes, "fps": round(watcher.fps(start, stop), 2), "fps_per_minute": per_minute,
            "longest_stall_s": round(watcher.longest_gap(start, stop), 3),
            "stalls_over_0_5s": sum(1 for (a, _), (b, _) in zip(watcher.fragments, watcher.fragments[1:])
                                    if start <= a < stop and b - a > 0.5),
            # when each gap over 0.4 s (0.2 s beyond the fragment period) began, s into the run, and its length
            "gaps_over_0_4s": [(round(a - start, 1), round(b - a, 3)) for (a, _), (b, _)
                               in zip(watcher.fragments, watcher.fragments[1:]) if start <= a < stop and b - a > 0.4],
            "load_per_minute": load_per_minute,
            "server_cpu_cores": round(cpu, 2), "mbit_s": round(watcher.bytes * 8 / (stop - start) / 1e6, 2),
            "says": len(said), "say_to_speaking_p50_s": percentile(lat, 50),
            "say_to_speaking_p95_s": percentile(lat, 95), "say_latencies_s": [round(x, 3) for x in lat],
            "say_to_speech_frame_p50_s": percentile(heard, 50), "say_to_speech_frame_p95_s": percentile(heard, 95),
            "say_to_speech_frame_s": [round(x, 3) for x in heard],
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


def chat(client: Any, server: Server, avatar_id: str, model: str, count: int) -> dict[str, Any]:
    """``count`` questions in chat mode, each once the last answer has ended: end of turn -> speaking."""
    session_id, watcher = start_session(client, avatar_id, 512, chat_model=model)
    time.sleep(8.0)  # the session warms up: the chat model's server starts and reads its first prompt
    start, cpu0 = time.monotonic(), cpu_seconds(server.proc.pid)
    asked: list[float] = []
    for i in range(count):
        seen = len(watcher.events)
        t = time.monotonic()
        client.post(f"/v1/live/{session_id}/chat", json={"text": QUESTIONS[i % len(QUESTIONS)]}).raise_for_status()
        asked.append(t)
        deadline = t + 60
        while time.monotonic() < deadline and not any(e["type"] in ("idle", "error")
                                                       for _, e in watcher.events[seen:]):
            time.sleep(0.1)
        time.sleep(1.0)
    stop = time.monotonic()
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / (stop - start)
    watcher.stop()
    client.delete(f"/v1/live/{session_id}")
    lat = latencies(watcher, asked)
    return {"model": model, "chats": count, "answered": len(lat), "chat_to_speaking_p50_s": percentile(lat, 50),
            "chat_to_speaking_p95_s": percentile(lat, 95), "chat_latencies_s": [round(x, 3) for x in lat],
            "fps": round(watcher.fps(start, stop), 2),
            "longest_stall_s": round(watcher.longest_gap(start, stop), 3), "server_cpu_cores": round(cpu, 2),
            "errors": [e["msg"] for _, e in watcher.events if e["type"] == "error"]}


def streamed_mouth(client: Any, avatar_id: str, model_dir: Path, audio: Path, seconds: float,
                   work: Path, lookahead: float) -> dict[str, Any]:
    """The mouth a client saw while streaming ``audio`` over the socket vs an offline render of it."""
    import wave

    import numpy as np

    from digihuman.face import track_video
    from digihuman.live.speech import RATE
    from digihuman.render.avatar import AvatarModel
    from digihuman.render.base import RenderOptions
    from digihuman.render.video import plan_render, write_render
    from digihuman.speech.align import mouth_track
    from digihuman.speech.align.features import load_audio
    from digihuman.speech.align.timeline import default_builder

    samples = load_audio(audio)[: int(seconds * RATE)]
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    session_id, watcher = start_session(client, avatar_id, 512, keep=True)
    time.sleep(3.0)
    seen = len(watcher.events)
    watcher.send(json.dumps({"type": "audio_start", "sample_rate": RATE}))
    step, t0 = RATE // 10, time.monotonic()
    for i, pos in enumerate(range(0, len(pcm), step)):  # as a microphone sends it: 100 ms every 100 ms
        time.sleep(max(0.0, t0 + i * 0.1 - time.monotonic()))
        watcher.send(pcm[pos: pos + step].tobytes())
    watcher.send(json.dumps({"type": "audio_end"}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(e["type"] == "idle" for _, e in watcher.events):
        time.sleep(0.2)
    time.sleep(1.0)
    watcher.stop()
    client.delete(f"/v1/live/{session_id}")
    speaking = [f for f, (_, e) in zip(watcher.event_frames, watcher.events) if e["type"] == "speaking"]
    heard = [at - t0 for at, e in watcher.events[seen:] if e["type"] == "speaking"]
    if not speaking or watcher.data is None:
        raise RuntimeError(f"the streamed audio was never spoken; events: {watcher.events}")
    streamed = work / "streamed.mp4"
    streamed.write_bytes(b"".join(watcher.data))
    # the stream's frame where the sound of ``samples`` starts, found in the stream's own audio track
    first = onset_frame(streamed, samples)
    model = AvatarModel.load(model_dir)
    timeline = default_builder().from_samples(samples)
    plan = plan_render(model, samples, timeline, mouth_track(timeline, model.fps))
    wav = work / "streamed_audio.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    offline = write_render(model, plan, wav, work / "offline", RenderOptions()).video
    live_open = track_video(streamed).mouth["opening"][first:]
    off_open = track_video(offline).mouth["opening"]
    n = min(len(live_open), len(off_open), int(seconds * 25))
    a, b = live_open[:n], off_open[:n]

    def r(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.corrcoef(x, y)[0, 1])

    lags = {lag: r(a[max(0, lag): n + min(0, lag)], b[max(0, -lag): n - max(0, lag)]) for lag in range(-6, 7)}
    best = max(lags, key=lambda k: lags[k])
    return {"audio": audio.name, "seconds": round(n / 25, 1), "first_frame": first,
            "frames_before_speaking_event": speaking[0], "opening_r": round(lags[0], 3),
            "opening_r_best_lag": round(lags[best], 3), "best_lag_frames": best,
            "audio_to_speaking_s": round(heard[0], 3) if heard else None, "lookahead_s": lookahead,
            "note": "streamed over the socket, decoded and face-tracked vs an offline render of the same audio "
                    "(acoustic timeline, one plan), also face-tracked; lag > 0: the stream is late"}


def decoded_media(video: Path) -> tuple[Any, Any]:
    """The presentation time of every video frame of ``video`` and its sound track (16 kHz, placed at
    its own presentation times)."""
    import av
    import numpy as np

    from digihuman.live.speech import RATE

    with av.open(str(video)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    track = np.zeros(int((times[-1] + 2) * RATE), np.float32)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    with av.open(str(video)) as c:
        for frame in c.decode(audio=0):
            at = int(round(float(frame.time) * RATE))
            for out in resampler.resample(frame):
                data = out.to_ndarray()[0]
                data = data[: max(0, len(track) - at)]
                track[at: at + len(data)] = data
                at += len(data)
    return np.array(times), track


def onset_frame(video: Path, samples: Any) -> int:
    """Index of the video frame of ``video`` shown when its sound track starts playing ``samples``."""
    import numpy as np

    from digihuman.live.speech import RATE

    times, track = decoded_media(video)
    # the first second is played without a break (streamed audio's first block is 1 s): normalised
    # cross-correlation with it, so loud speech elsewhere does not outscore the match
    probe = samples[: int(0.9 * RATE)].astype(np.float64)
    probe -= probe.mean()
    n = 1 << int(np.ceil(np.log2(len(track) + len(probe))))
    dot = np.fft.irfft(np.fft.rfft(track, n) * np.conj(np.fft.rfft(probe, n)), n)[: len(track) - len(probe)]
    energy = np.concatenate([[0.0], np.cumsum(track.astype(np.float64) ** 2)])
    local = energy[len(probe):len(track)] - energy[: len(track) - len(probe)]
    power = float(probe @ probe)
    score = dot / np.sqrt(np.maximum(local, 0.05 * power) * power)  # silence: no match
    start_s = int(np.argmax(score)) / RATE
    return int(np.argmin(np.abs(times - start_s)))


def plan_agreement(model_dir: Path, audio: Path, seconds: float = 30.0,
                   options: Any = None) -> dict[str, Any]:
    """Streamed audio is planned in blocks (:mod:`digihuman.live.blocks`, cut with ``options``, the
    product's by default): how close are the mouths it chooses to the mouths an offline render of the
    same audio chooses in one plan? Both use the acoustic timeline (streamed audio has no text), so only
    the blocking differs. Each frame shows the mouth of the block its first sample plays in, as the live
    producer picks it. Reported as Pearson r of the chosen mouths' opening, frame by frame, and of their
    5-frame means."""
    import numpy as np

    from digihuman.live.blocks import BlockCutter, BlockOptions
    from digihuman.live.speech import RATE, MouthPlanner
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
    options = options or BlockOptions()
    cutter = BlockCutter(fps, options)
    blocks = cutter.push(samples[: len(samples) // 2]) + cutter.push(samples[len(samples) // 2:], final=True)
    live: list[int] = []
    pos = 0
    for block in blocks:
        utterance = planner.block(block, int(pos / RATE * fps), 0)
        end = pos + len(block.samples)
        for k in range(int(np.ceil(pos / RATE * fps - 1e-9)), int(np.ceil(end / RATE * fps - 1e-9))):
            live.append(utterance.mouth_at((round(k * RATE / fps) - pos) / RATE))  # as the producer asks
        pos = end
    n = min(len(offline), len(live))
    opening = model.arrays["descriptors"][:, 0]
    a, b = opening[offline[:n]], opening[np.array(live[:n])]
    smooth = np.ones(5) / 5
    return {"audio": audio.name, "seconds": round(n / fps, 1), "context_s": options.context_s,
            "lookahead_s": options.lookahead_s, "opening_r": round(float(np.corrcoef(a, b)[0, 1]), 3),
            "opening_r_5frame": round(float(np.corrcoef(np.convolve(a, smooth, "valid"),
                                                         np.convolve(b, smooth, "valid"))[0, 1]), 3),
            "same_mouth_share": round(float(np.mean(offline[:n] == np.array(live[:n]))), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the sustained run (default 10; 0 skips it)")
    parser.add_argument("--say-every", type=float, default=12.0, help="seconds between sentences in the sustained run")
    parser.add_argument("--video", type=Path, default=None, help="avatar training video (default: shared v09)")
    parser.add_argument("--sizes", default="512,384", help="stream sizes of the concurrency runs")
    parser.add_argument("--max-sessions", type=int, default=4, help="most sessions tried at once (0 skips it)")
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per concurrency step")
    parser.add_argument("--chat-model", default="gemma3-270m", help="model of the chat run ('' skips it)")
    parser.add_argument("--chats", type=int, default=6, help="questions asked in the chat run")
    parser.add_argument("--mouth-seconds", type=float, default=20.0,
                        help="seconds of audio streamed for the streamed-vs-offline mouth (0 skips it)")
    parser.add_argument("--lookahead", type=float, default=None,
                        help="the server's live.audio_lookahead_s (default: its own default)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import httpx

    video = args.video or sorted(MEDIA.glob("video/v09*.mp4"))[0]
    os.environ["DIGIHUMAN_LIVE__MAX_SESSIONS_PER_KEY"] = str(max(1, args.max_sessions))
    os.environ["DIGIHUMAN_LIVE__MAX_SESSIONS"] = str(max(1, args.max_sessions))
    if args.lookahead is not None:
        os.environ["DIGIHUMAN_LIVE__AUDIO_LOOKAHEAD_S"] = str(args.lookahead)
    results: dict[str, Any] = {"video": video.name, "cores": os.cpu_count(), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="live-eval-") as tmp, Server(Path(tmp) / "data") as server, \
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as client:
        t = time.monotonic()
        avatar_id = train(client, video)
        results["training_s"] = round(time.monotonic() - t, 1)
        print(f"avatar trained from {video.name} in {results['training_s']} s", flush=True)
        model_dir = next(server.data_dir.rglob(f"avatars/{avatar_id}/manifest.json")).parent
        a05 = sorted(MEDIA.glob("audio/a05*"))[0]
        results["streamed_vs_offline_plan"] = plan_agreement(model_dir, a05)
        print("streamed audio vs offline plan:", json.dumps(results["streamed_vs_offline_plan"]), flush=True)
        results["streamed_plan_ablation"] = [plan_agreement(model_dir, a05, options=o)
                                             for o in _plan_ablation()]
        for row in results["streamed_plan_ablation"]:
            print("  ablation:", json.dumps(row), flush=True)
        if args.minutes > 0:
            results["sustained"] = sustained(client, server, avatar_id, args.minutes, args.say_every, Path(tmp))
            print("sustained:", json.dumps({k: v for k, v in results["sustained"].items()
                                            if k not in ("say_latencies_s", "say_to_speech_frame_s")}), flush=True)
        if args.chat_model:
            results["chat"] = chat(client, server, avatar_id, args.chat_model, args.chats)
            print("chat:", json.dumps(results["chat"]), flush=True)
        if args.mouth_seconds > 0:
            results["streamed_vs_offline_mouth"] = streamed_mouth(client, avatar_id, model_dir, a05,
                                                                  args.mouth_seconds, Path(tmp),
                                                                  lookahead_in_use(args.lookahead))
            print("streamed vs offline mouth:", json.dumps(results["streamed_vs_offline_mouth"]), flush=True)
        results["concurrency"] = []
        for size in (int(s) for s in args.sizes.split(",") if args.max_sessions > 0):
            results["concurrency"] += concurrency(client, server, avatar_id, size, args.max_sessions, args.window)
    results["load_after"] = os.getloadavg()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")
    return 0


def print_table(r: dict[str, Any]) -> None:
    print(f"\nLive avatar, {r['video']}, {r['cores']} cores, load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}")
    if "sustained" in r:
        print_sustained(r["sustained"])
    print_rest(r)


def print_sustained(s: dict[str, Any]) -> None:
    print(f"{'sustained 512 px @ 25 fps':32s} {s['fps']:6.2f} fps over {s['minutes']:g} min, "
          f"longest stall {s['longest_stall_s']:.2f} s, {s['stalls_over_0_5s']} gaps > 0.5 s")
    print(f"{'server CPU':32s} {s['server_cpu_cores']:6.2f} cores   {s['mbit_s']:.2f} Mbit/s")
    print(f"{'say -> speaking p50 / p95':32s} {s['say_to_speaking_p50_s']} / {s['say_to_speaking_p95_s']} s "
          f"({s['says']} says)")
    print(f"{'say -> first speech frame p50/p95':32s} {s.get('say_to_speech_frame_p50_s')} / "
          f"{s.get('say_to_speech_frame_p95_s')} s (received, its sound is speech)")


def print_rest(r: dict[str, Any]) -> None:
    if "chat" in r:
        c = r["chat"]
        print(f"{'chat -> speaking p50 / p95':32s} {c['chat_to_speaking_p50_s']} / "
              f"{c['chat_to_speaking_p95_s']} s "
              f"({c['answered']}/{c['chats']} answered, {c['model']}, {c['fps']:.2f} fps, "
              f"stall {c['longest_stall_s']:.2f} s)")
    if "streamed_vs_offline_mouth" in r:
        m = r["streamed_vs_offline_mouth"]
        print(f"{'streamed vs offline mouth':32s} opening r {m['opening_r']} (best lag {m['best_lag_frames']:+d}: "
              f"{m['opening_r_best_lag']}) over {m['seconds']} s of {m['audio']}")
        print(f"{'streamed audio -> speaking':32s} {m['audio_to_speaking_s']} s (look-ahead {m['lookahead_s']} s)")
    a = r["streamed_vs_offline_plan"]
    print(f"{'streamed audio vs offline plan':32s} opening r {a['opening_r']} (5-frame {a['opening_r_5frame']}), "
          f"same mouth {a['same_mouth_share']:.0%} over {a['seconds']} s of {a['audio']}")
    for a in r.get("streamed_plan_ablation", []):
        print(f"{'  context / look-ahead s':32s} {a['context_s']} / {a['lookahead_s']}: opening r {a['opening_r']} "
              f"(5-frame {a['opening_r_5frame']})")
    for size in sorted({c["size"] for c in r["concurrency"]}, reverse=True):
        held = [c["sessions"] for c in r["concurrency"] if c["size"] == size and c["holds_25fps"]]
        steps = ", ".join(f"{c['sessions']}: {c['min_fps']:.1f}" for c in r["concurrency"] if c["size"] == size)
        print(f"{f'sessions holding 25 fps @ {size}':32s} {max(held, default=0):6d}   (min fps by count: {steps})")


if __name__ == "__main__":
    raise SystemExit(main())
