"""Load benchmark: many concurrent clients submit avatar tasks and poll each one to a final state.

Run from the repository root:

    PYTHONPATH=. .venv/bin/python bench/load.py --clients 50 --duration 60

By default it starts its own server (``digihuman serve`` on a free port, a temporary data dir,
``--workers`` worker processes, the fake fast engines of tests/fake_engines.py) and stops it at the
end; ``--url URL --key KEY`` targets a running server instead. It uploads a 64x64 PNG and a 1 s WAV
once, then each client loops until ``--duration`` ends: POST /avatar/generation, then GET
/avatar/task/{id} every ``--poll`` seconds until web_work_status is 200 or -1. After the duration no
more tasks are submitted and the clients wait (at most ``--drain`` seconds) for their last tasks.
It prints a table and writes the same as JSON (``--out``); exit code 1 when a task was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.mediagen import make_png, make_wav

ROOT = Path(__file__).resolve().parent.parent
FINAL = (200, -1)


class Stats:
    """What the clients saw; one instance shared by all (asyncio: no locks needed)."""

    def __init__(self) -> None:
        self.submit_s: list[float] = []
        self.status_s: list[float] = []
        self.e2e_s: list[float] = []
        self.errors: Counter[str] = Counter()  # non-200 answers ("429", "500") and transport errors
        self.submitted = self.succeeded = self.failed = 0
        self.failures: Counter[str] = Counter()  # error messages of failed tasks


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


async def timed(stats: Stats, sink: list[float], request) -> dict | None:  # type: ignore[no-untyped-def]
    """Await ``request``; record its latency; the envelope's data on HTTP 200, else None."""
    start = time.perf_counter()
    try:
        response = await request
    except httpx.HTTPError as e:
        stats.errors[type(e).__name__] += 1
        return None
    sink.append(time.perf_counter() - start)
    if response.status_code != 200:
        stats.errors[str(response.status_code)] += 1
        return None
    return response.json()["data"]


async def client(http: httpx.AsyncClient, stats: Stats, body: dict, stop_at: float, give_up_at: float,
                 poll: float) -> None:
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        data = await timed(stats, stats.submit_s, http.post("/avatar/generation", json=body))
        if data is None:
            await asyncio.sleep(0.5)  # refused or broken: back off a little, then try again
            continue
        stats.submitted += 1
        while time.monotonic() < give_up_at:
            await asyncio.sleep(poll)
            task = await timed(stats, stats.status_s, http.get(f"/avatar/task/{data['id']}"))
            if task is not None and task["web_work_status"] in FINAL:
                stats.e2e_s.append(time.perf_counter() - started)
                if task["web_work_status"] == 200:
                    stats.succeeded += 1
                else:
                    stats.failed += 1
                    stats.failures[str(task.get("error"))] += 1
                break


def start_server(workers: int, tmp: Path, key: str) -> tuple[subprocess.Popen, str, Path]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DIGIHUMAN_PUBLIC_URL"}
    env.update(DIGIHUMAN_ENGINE_FACTORY="tests.fake_engines:build", PYTHONPATH=str(ROOT),
               DIGIHUMAN_API_KEYS=key, DIGIHUMAN_TASKS__MAX_ACTIVE_PER_KEY="100000",
               DIGIHUMAN_LOG_LEVEL="WARNING")
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/digihuman"), "serve", "--port", str(port), "--data-dir", str(tmp / "data"),
             "--workers", str(workers)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url, log_path
        time.sleep(0.2)
    stop_server(proc)
    sys.exit(f"the server did not become healthy in 60 s; see {log_path}")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGINT (the server stops its workers gracefully), then kill its process group if it hangs."""
    proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=45)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group is ours (start_new_session); catches orphans
    proc.wait()


def summarize_log(path: Path) -> dict:
    """Count server log lines by level, and the most frequent warning/error messages."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            level, msg = entry.get("level", "?"), f"{entry.get('logger')}: {entry.get('msg')}"
        except (json.JSONDecodeError, AttributeError):
            level, msg = "raw", line.strip()[:160]
        levels[level] += 1
        if level != "info" and msg:
            messages[msg] += 1
    return {"path": str(path), "levels": dict(levels), "top": dict(messages.most_common(8))}


async def run_load(args: argparse.Namespace, url: str, key: str, tmp: Path, stats: Stats) -> float:
    limits = httpx.Limits(max_connections=args.clients + 10, max_keepalive_connections=args.clients + 10)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=httpx.Timeout(60.0)) as http:
        urls = {}
        for field, path, mime in (("avatar_url", make_png(tmp / "avatar.png"), "image/png"),
                                  ("audio_url", make_wav(tmp / "speech.wav", seconds=1.0), "audio/wav")):
            response = await http.post("/v1/files", files={"file": (path.name, path.read_bytes(), mime)})
            if response.status_code != 200:
                sys.exit(f"upload of {path.name} failed: {response.status_code} {response.text}")
            urls[field] = response.json()["data"]["url"]
        start = time.monotonic()
        stop_at, give_up_at = start + args.duration, start + args.duration + args.drain
        await asyncio.gather(*(client(http, stats, urls, stop_at, give_up_at, args.poll)
                               for _ in range(args.clients)))
        return time.monotonic() - start


def spread(values: list[float]) -> dict:
    """Count, p50, p99 and max, in milliseconds."""
    ms = [round(v * 1000, 1) for v in values]
    return {"n": len(ms), "p50": pct(ms, .5), "p99": pct(ms, .99), "max": max(ms, default=None)}


def report(args: argparse.Namespace, stats: Stats, elapsed: float, log: dict | None) -> dict:
    return {
        "clients": args.clients, "duration_s": args.duration, "workers": args.workers if not args.url else None,
        "elapsed_s": round(elapsed, 1), "submitted": stats.submitted, "succeeded": stats.succeeded,
        "failed": stats.failed, "lost": stats.submitted - stats.succeeded - stats.failed,
        "errors": dict(stats.errors),
        "tasks_per_s": round(stats.succeeded / elapsed, 2) if elapsed else 0.0,
        "submit_ms": spread(stats.submit_s), "status_ms": spread(stats.status_s),
        "e2e_s": {"p50": round(pct(stats.e2e_s, .5) or 0, 2), "p99": round(pct(stats.e2e_s, .99) or 0, 2)},
        "failures": dict(stats.failures), "server_log": log,
    }


def table(r: dict) -> str:
    triple = lambda d: f"{d['p50']} / {d['p99']} / {d['max']}  (n={d['n']})"  # noqa: E731
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "none"
    rows = [("clients", r["clients"]), ("duration s", r["duration_s"]),
            ("workers", r["workers"] if r["workers"] is not None else "(external server)"),
            ("elapsed s", r["elapsed_s"]), ("submitted", r["submitted"]), ("succeeded", r["succeeded"]),
            ("failed", r["failed"]), ("lost", r["lost"]), ("errors (HTTP)", errors),
            ("tasks/s", r["tasks_per_s"]), ("submit ms p50/p99/max", triple(r["submit_ms"])),
            ("status ms p50/p99/max", triple(r["status_ms"])),
            ("end-to-end s p50/p99", f"{r['e2e_s']['p50']} / {r['e2e_s']['p99']}")]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of submitting")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the started server")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between status polls")
    parser.add_argument("--drain", type=float, default=120.0, help="most seconds to wait for the last tasks")
    parser.add_argument("--url", help="target this running server instead of starting one")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/load.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary dir (data, server.log)")
    args = parser.parse_args()
    if bool(args.url) != bool(args.key):
        parser.error("--url and --key go together")

    tmp = Path(tempfile.mkdtemp(prefix="digihuman-bench-"))
    stats, proc, log_path = Stats(), None, None
    try:
        if args.url:
            url, key = args.url.rstrip("/"), args.key
        else:
            key = "bench-" + secrets.token_hex(16)
            proc, url, log_path = start_server(args.workers, tmp, key)
        elapsed = asyncio.run(run_load(args, url, key, tmp, stats))
    finally:
        if proc is not None:
            stop_server(proc)
    result = report(args, stats, elapsed, summarize_log(log_path) if log_path else None)
    print(table(result))
    if result["failures"]:
        print("task failures:", result["failures"])
    if log_path:
        print(f"server log lines by level: {result['server_log']['levels'] or 'none'}")
        for msg, n in result["server_log"]["top"].items():
            print(f"  {n:>6}x {msg}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}" + (f"; kept {tmp}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if result["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
