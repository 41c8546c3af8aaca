"""End-to-end talking-head time through the HTTP API, for bench/render_speed.py (see its docstring).

A real ``digihuman serve`` (one worker process) on a free port and a temporary data dir; the media
are uploaded first (POST /v1/files), so the timed span is what a client waits for once its inputs are
on the server: POST /avatar/generation until GET /v1/tasks/{id} says succeeded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEY = "bench-key-0123456789"
POLL_S = 0.25
# Requests timed per video avatar: the first trains it; the repeat reuses it; "marked" reuses it too and
# leaves out no_watermark, as a request does by default (the video then carries the server's mark).
_REQUESTS = ("first", "repeat", "marked")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``digihuman serve`` in a subprocess, stopped (SIGTERM, its workers with it) on exit."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        import httpx

        env = {**os.environ, "DIGIHUMAN_API_KEYS": KEY, "DIGIHUMAN_PUBLIC_URL": self.url,
               "DIGIHUMAN_LOG_LEVEL": "WARNING"}
        self.log = open(self.data_dir.parent / "serve.log", "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen([sys.executable, "-m", "digihuman", "serve", "--port", str(self.port),
                                     "--data-dir", str(self.data_dir), "--workers", "1"],
                                    env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"digihuman serve did not start; see {self.log.name}")

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def workers(self) -> list[int]:
        """Every process below the server (the worker supervisor, consumer and worker processes)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        found, frontier = [], [self.proc.pid]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            found += children
            frontier = children
        return found


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_hwm(pids: list[int]) -> None:
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def _upload(client: Any, path: Path) -> str:
    with path.open("rb") as handle:
        response = client.post("/v1/files", files={"file": (path.name, handle)})
    response.raise_for_status()
    return response.json()["data"]["url"]


def generate(client: Any, body: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """One /avatar/generation with ``body`` from submit to success: the task, wall and submit seconds."""
    t0 = time.perf_counter()
    response = client.post("/avatar/generation", json=body)
    submit_s = time.perf_counter() - t0
    response.raise_for_status()
    task_id = response.json()["data"]["id"]
    while True:
        task = client.get(f"/v1/tasks/{task_id}").json()["data"]
        if task["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(POLL_S)
    wall = time.perf_counter() - t0
    if task["status"] != "succeeded":
        raise RuntimeError(f"task {task_id} {task['status']}: {task['error']}")
    return task, wall, submit_s


def timed_request(server: Server, client: Any, avatar_url: str, audio_url: str, marked: bool = False) -> dict[str, Any]:
    """One /avatar/generation from submit to success: wall seconds, the task's stages, worker peak RSS.
    ``marked``: as the request comes by default, with the server's watermark; else ``no_watermark``."""
    pids = server.workers()
    _reset_hwm(pids)
    body = {"avatar_url": avatar_url, "audio_url": audio_url} | ({} if marked else {"no_watermark": True})
    task, wall, submit_s = generate(client, body)
    outputs = task["outputs"]
    return {"e2e_s": round(wall, 2), "submit_s": round(submit_s, 3), "video_s": outputs["duration_s"],
            "rtf_e2e": round(wall / outputs["duration_s"], 3), "trained": outputs.get("avatar_trained"),
            "avatar_model_id": outputs.get("avatar_model_id"), "timings": outputs["timings"],
            "worker_peak_rss_mb": round(max((_hwm_mb(p) for p in server.workers()), default=0.0))}


def run_e2e(seconds: float, speech: Callable, cut: Callable, floor: Callable, sources: dict,
            media: Path, results: Path, train_s: float = 10.0) -> dict[str, Any]:
    import av
    import cv2
    import httpx

    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        audio = speech(work / f"speech_{int(seconds)}.wav", seconds)
        inputs: dict[str, Path] = {}
        trained_s: dict[str, float] = {}  # a clip shorter than train_s is taken whole
        for name, (clip, width) in sources.items():
            inputs[name] = cut(media / clip, work / f"e2e_{name}.mp4", train_s, width)
            with av.open(str(inputs[name])) as container:
                trained_s[name] = container.duration / av.time_base
        photo = cv2.imread(str(media / "image" / "p07_m_asian_frame_from_v01.png"))
        inputs["photo"] = work / "photo.png"
        cv2.imwrite(str(inputs["photo"]), photo)
        data_dir = work / "server" / "data"
        data_dir.mkdir(parents=True)
        with Server(data_dir) as server, httpx.Client(base_url=server.url, timeout=600,
                                                      headers={"Authorization": f"Bearer {KEY}"}) as client:
            audio_url = _upload(client, audio)
            for name, path in inputs.items():
                avatar_url = _upload(client, path)
                row: dict[str, Any] = {"first": timed_request(server, client, avatar_url, audio_url)}
                if name != "photo":
                    row["repeat"] = timed_request(server, client, avatar_url, audio_url)
                    row["repeat_over_first"] = round(row["repeat"]["e2e_s"] / row["first"]["e2e_s"], 3)
                    row["marked"] = timed_request(server, client, avatar_url, audio_url, marked=True)
                    model_dir = data_dir / "files" / "avatars" / row["first"]["avatar_model_id"]
                    if (model_dir / "manifest.json").is_file():
                        from digihuman.render.avatar import AvatarModel

                        model = AvatarModel.load(model_dir)
                        frames = int(round(row["repeat"]["video_s"] * model.fps))
                        cpu0 = time.process_time()
                        row["floor_s"] = round(floor(model_dir, audio, frames), 2)
                        row["floor_cpu_s"] = round(time.process_time() - cpu0, 2)
                        row["size"] = list(model.size)
                    first_training = row["first"]["timings"].get("training", {}).get("wall_s")
                    if first_training:
                        row["train_s_per_s"] = round(first_training / trained_s[name], 2)
                        row["trained_video_s"] = round(trained_s[name], 1)
                rows[name] = row
                print(json.dumps({name: {k: v for k, v in row.items() if k not in _REQUESTS}
                                  | {f"{part}_s": row[part]["e2e_s"] for part in _REQUESTS if part in row}}),
                      flush=True)
    _print_table(rows, seconds)
    results.mkdir(parents=True, exist_ok=True)
    out = {"speech_s": seconds, "train_s": train_s, "cases": rows}
    (results / f"render_e2e_{int(seconds)}s.json").write_text(json.dumps(out, indent=1))
    return out


def _print_table(rows: dict[str, Any], seconds: float) -> None:
    nan = float("nan")
    print(f"\nend to end through the API, {seconds:g} s of speech (wall s; RTF = wall / video s)")
    print(f"{'case':10} {'first':>7} {'RTF':>6} {'repeat':>7} {'RTF':>6} {'rep/1st':>7} {'marked':>7} {'RTF':>6} "
          f"{'floor':>6} {'train s/s':>9} {'peak MB':>7}")
    for name, r in rows.items():
        rep, marked = r.get("repeat", {}), r.get("marked", {})
        peak = max(r[part]["worker_peak_rss_mb"] for part in _REQUESTS if part in r)
        print(f"{name:10} {r['first']['e2e_s']:7.1f} {r['first']['rtf_e2e']:6.2f} "
              f"{rep.get('e2e_s', nan):7.1f} {rep.get('rtf_e2e', nan):6.2f} {r.get('repeat_over_first', nan):7.2f} "
              f"{marked.get('e2e_s', nan):7.1f} {marked.get('rtf_e2e', nan):6.2f} {r.get('floor_s', nan):6.1f} "
              f"{r.get('train_s_per_s', nan):9.2f} {peak:7.0f}")
    print("\nstage profile (wall s / CPU s) of each request:")
    columns = [(name, part) for name, r in rows.items() for part in _REQUESTS if part in r]
    stages: list[str] = []
    for name, part in columns:
        stages += [stage for stage in rows[name][part]["timings"] if stage not in stages]
    print(f"{'stage':17}" + "".join(f"{name + ':' + part[:3]:>16}" for name, part in columns))
    for stage in stages:
        cells = []
        for name, part in columns:
            t = rows[name][part]["timings"].get(stage)
            cells.append(f"{t['wall_s']:7.1f}/{t['cpu_s']:<7.1f}" if t else f"{'-':>15}")
        print(f"{stage:17}" + "".join(f"{c:>16}" for c in cells))
