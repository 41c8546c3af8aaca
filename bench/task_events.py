"""How soon a task's event stream reports its end, and what a watched stream costs in CPU.

Run from the repository root:

    .venv/bin/python bench/task_events.py

A real server (uvicorn in a thread, fake engines) and one stream per task on /v1/tasks/{id}/events.
Two schedules of reading the task record, side by side in one run:

    fixed       a read every EVENT_POLL_S (1 s), as the stream did before
    adaptive    the first read after EVENT_POLL_FIRST_S (0.1 s), then half as long again after each
                read that found nothing new, up to EVENT_POLL_S

``end_lag_s``: from the moment the task record ended (run in this process, at a random point of the
stream's rhythm) to the final event arriving at the reader. ``reads_per_s``: task record reads of one
stream, after its first 5 s, watching a task that stays queued, and one whose progress changes every
half second (as a worker reports it); ``cpu_ms_per_s`` is that times the CPU of one read (``read_cpu_ms``).
Writes bench/results/task_events.json.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digihuman.api.routes import tasks as task_routes  # noqa: E402
from tests.conftest import API_KEY, make_settings  # noqa: E402
from tests.mediagen import make_png  # noqa: E402
from tests.support.live_server import live_server, run_queued  # noqa: E402
from digihuman.api.submit import submit  # noqa: E402
from digihuman.tasks.payloads import AvatarGeneratePayload, UseVoice  # noqa: E402

ROUNDS = 12
SETTLE_S = 5.0
WATCH_S = 10.0


def speak_task(services):  # type: ignore[no-untyped-def]
    """A render of a stored picture saying a sentence, owned by the key the streams use."""
    with make_png(services.settings.data_dir.parent / "face.png").open("rb") as picture:
        avatar = services.intake.take_upload(picture, "avatar", "image")
    payload = AvatarGeneratePayload(avatar_key=avatar.key, use_voice=UseVoice("fake-en", "hello there"))
    return submit(services, services.keys.identify(API_KEY), payload)


def end_lags(url: str, services) -> list[float]:  # type: ignore[no-untyped-def]
    lags = []
    with httpx.Client(base_url=url, params={"key": API_KEY}, timeout=30) as http:
        for _ in range(ROUNDS):
            task = speak_task(services)
            done: list[float] = []

            def run() -> None:
                time.sleep(random.uniform(0.3, 2.5))  # anywhere in the stream's rhythm
                run_queued(services)
                done.append(time.monotonic())

            runner = threading.Thread(target=run)
            with http.stream("GET", f"/v1/tasks/{task.id}/events") as response:
                runner.start()
                lines = []
                for line in response.iter_lines():
                    lines.append(line)
                    if line == "event: succeeded":
                        arrived = time.monotonic()
                        break
                else:
                    raise RuntimeError(f"the stream ended without success: {lines[-3:]}")
            runner.join()
            lags.append(arrived - done[0])
    return lags


def reads_per_s(url: str, services, moving: bool) -> float:  # type: ignore[no-untyped-def]
    """Task record reads per second of one stream over WATCH_S, after its first SETTLE_S: of a task that
    stays queued, or (``moving``) of one whose progress changes every half second as a worker reports it."""
    task = speak_task(services)
    reads = [0]
    get = services.tasks.get

    def counted(task_id: str, **kw):  # type: ignore[no-untyped-def]
        reads[0] += 1
        return get(task_id, **kw)

    services.tasks.get = counted
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(0.5):
            services.tasks.heartbeat(task.id, "bench", time.monotonic() % 100, "rendering")

    def watch() -> None:
        with httpx.Client(base_url=url, params={"key": API_KEY}, timeout=None) as http, \
                http.stream("GET", f"/v1/tasks/{task.id}/events") as response:
            for _ in response.iter_lines():
                pass

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    if moving:
        services.tasks.claim(task.id, "bench")
        threading.Thread(target=report, daemon=True).start()
    time.sleep(SETTLE_S)
    before = reads[0]
    time.sleep(WATCH_S)
    rate = (reads[0] - before) / WATCH_S
    stop.set()
    services.tasks.request_cancel(task.id)
    if moving:
        services.tasks.heartbeat(task.id, "bench", 0, "rendering")  # the worker's beat sees the cancel
        services.tasks.fail(task.id, 499, "cancelled", worker="bench")
    reader.join(timeout=5)
    services.tasks.get = get
    return rate


def read_cpu_ms(services) -> float:  # type: ignore[no-untyped-def]
    """CPU of one read of a task record, as the stream makes it."""
    task = speak_task(services)
    for _ in range(20):
        services.tasks.get(task.id)
    start = time.process_time()
    for _ in range(300):
        services.tasks.get(task.id)
    return 1000 * (time.process_time() - start) / 300


def main() -> None:
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with live_server(lambda url: make_settings(Path(tmp) / "data", public_url=url), work=False) as served:
            schedules = (("fixed", task_routes.EVENT_POLL_S), ("adaptive", task_routes.EVENT_POLL_FIRST_S))
            for name, first in schedules:
                task_routes.EVENT_POLL_FIRST_S = first
                lags = end_lags(served.url, served.services)
                idle, moving = (reads_per_s(served.url, served.services, m) for m in (False, True))
                read_ms = read_cpu_ms(served.services)
                results[name] = {"end_lag_s": {"mean": round(statistics.mean(lags), 3),
                                               "max": round(max(lags), 3), "n": len(lags)},
                                 "reads_per_s": {"queued": round(idle, 2), "moving": round(moving, 2)},
                                 "read_cpu_ms": round(read_ms, 2),
                                 "cpu_ms_per_s": {"queued": round(idle * read_ms, 2),
                                                  "moving": round(moving * read_ms, 2)}}
                print(name, results[name], flush=True)
    out = REPO / "bench" / "results" / "task_events.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
