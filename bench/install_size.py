"""How big a fresh install is, and how soon the server answers once ./run.sh serve starts.

Run from the repository root (the standard library is enough; no venv needed):

    python3 bench/install_size.py                    # the runtime set, requirements.txt
    python3 bench/install_size.py --chat             # the runtime set plus the chat extra
    python3 bench/install_size.py --requirements requirements-dev.txt --no-serve

A virtual environment is built in a temporary folder from the given pinned files as run.sh builds it
(its pinned uv, --no-deps, wheels only; no download cache), and measured as `du -sb` measures it (the
budget is 2.0 GB, decimal; bytecode compiled ahead, as run.sh does); the biggest packages are listed,
and the set is checked to hold no TensorFlow, PyTorch or JAX. Then
(unless --no-serve) a scratch copy of the project is laid around that venv, `./run.sh install` finishes
it (the project itself and run.sh's stamp), and `./run.sh serve` is timed from its start to /health
answering 200, on a free port with an empty data dir and models dir.
Prints a table and writes bench/results/install_size.json (one entry per set of files; others kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "install_size.json"
BUDGET_BYTES = 2_000_000_000
HEALTH_BUDGET_S = 20.0
FORBIDDEN = ("tensorflow", "tensorflow-cpu", "torch", "jax", "jaxlib")
# What run.sh needs beside itself to install and serve.
PROJECT = ("run.sh", "pyproject.toml", "README.md", "requirements.txt", "requirements-chat.txt", "src")

SIZES = """
import json, os
from importlib.metadata import distributions
rows = []
for d in distributions():
    base = d.locate_file("")
    size = 0
    for f in d.files or []:
        try:
            size += os.lstat(os.path.join(base, str(f))).st_size
        except OSError:
            pass
    rows.append([d.metadata["Name"], d.version, size])
print(json.dumps(rows))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", action="append", type=Path,
                        help="pinned file to install (repeatable; default: requirements.txt)")
    parser.add_argument("--chat", action="store_true", help="add requirements-chat.txt (the chat extra)")
    parser.add_argument("--top", type=int, default=25, help="how many of the biggest packages to list")
    parser.add_argument("--python", default="python3.11", help="the interpreter the venv is made from")
    parser.add_argument("--no-serve", action="store_true", help="measure the size only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args()
    files = [f.resolve() for f in (args.requirements or [ROOT / "requirements.txt"])]
    if args.chat:
        files.append(ROOT / "requirements-chat.txt")

    scratch = Path(tempfile.mkdtemp(prefix="install-size-"))
    try:
        result = measure(files, scratch, args)
    finally:
        if args.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report(result, args.top)
    save(result)


def measure(files: list[Path], scratch: Path, args: argparse.Namespace) -> dict:
    app = scratch / "app"
    app.mkdir()
    for name in PROJECT:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, app / name)
    venv = app / ".venv"
    started = time.monotonic()
    subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
    reqs = [arg for f in files for arg in ("-r", str(f))]
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                    f"uv=={uv_version()}"], check=True)
    subprocess.run([str(venv / "bin" / "uv"), "pip", "install", "--python", str(venv / "bin" / "python"), "-q",
                    "--no-cache", "--no-deps", "--only-binary", ":all:", "--compile-bytecode", *reqs], check=True)
    install_s = time.monotonic() - started
    total = du(venv)
    packages = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", SIZES], check=True,
                                         capture_output=True, text=True).stdout)
    packages.sort(key=lambda row: -row[2])
    names = {name.lower() for name, _, _ in packages}
    result: dict = {
        "requirements": [str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f) for f in files],
        "python": subprocess.run([str(venv / "bin" / "python"), "-V"], check=True, capture_output=True,
                                 text=True).stdout.strip(),
        "venv_bytes": total, "budget_bytes": BUDGET_BYTES, "within_budget": total <= BUDGET_BYTES,
        "install_s": round(install_s, 1), "packages": len(packages),
        "forbidden_found": sorted(n for n in FORBIDDEN if n in names),
        "top": [{"name": n, "version": v, "bytes": b} for n, v, b in packages],
    }
    servable = {f.name for f in files} <= {"requirements.txt", "requirements-chat.txt"}
    if not args.no_serve and servable:
        chat = ["--with-chat"] if "requirements-chat.txt" in {f.name for f in files} else []
        result["serve"] = time_serve(app, chat, scratch)
    return result


def uv_version() -> str:
    """The installer version run.sh pins (its UV_VERSION line)."""
    line = next(li for li in (ROOT / "run.sh").read_text().splitlines() if li.startswith("UV_VERSION="))
    return line.split("=", 1)[1].split()[0]


def du(path: Path) -> int:
    """Bytes as `du -sb` counts them (apparent sizes, folders included, hard links once)."""
    return int(subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True, text=True).stdout.split()[0])


def time_serve(app: Path, chat: list[str], scratch: Path) -> dict:
    """Finish the install as run.sh does, then time ./run.sh serve until /health answers 200."""
    started = time.monotonic()
    subprocess.run(["./run.sh", "install", *chat], cwd=app, check=True, stdout=subprocess.DEVNULL)
    finish_s = time.monotonic() - started
    port = free_port()
    env = {**os.environ, "DIGIHUMAN_DATA_DIR": str(scratch / "data"), "DIGIHUMAN_MODELS_DIR": str(scratch / "models")}
    log = open(scratch / "serve.log", "wb")  # noqa: SIM115 - closed below, after the server is gone
    started = time.monotonic()
    server = subprocess.Popen(["./run.sh", "serve", *chat, "--host", "127.0.0.1", "--port", str(port)], cwd=app,
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    health_s, status = None, None
    try:
        while time.monotonic() - started < 120 and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    status = r.status
                    if status == 200:
                        health_s = time.monotonic() - started
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server and the worker it started
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
    tail = (scratch / "serve.log").read_text(errors="replace").strip().splitlines()[-5:]
    return {"finish_install_s": round(finish_s, 1), "health_s": round(health_s, 2) if health_s else None,
            "health_budget_s": HEALTH_BUDGET_S, "within_budget": health_s is not None and health_s <= HEALTH_BUDGET_S,
            "log_tail": tail if health_s is None else []}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(result: dict, top: int) -> None:
    print(f"requirements: {' + '.join(result['requirements'])}  ({result['python']}, {result['packages']} packages)")
    print(f"{'package':<36} {'version':<18} {'MB':>8}")
    for row in result["top"][:top]:
        print(f"{row['name']:<36} {row['version']:<18} {row['bytes'] / 1e6:8.1f}")
    total = result["venv_bytes"]
    print(f"{'fresh venv (du -sb)':<55} {total / 1e6:8.1f}  = {total:,} B, "
          f"{'within' if result['within_budget'] else 'OVER'} the {BUDGET_BYTES / 1e9:.1f} GB budget")
    print(f"install: {result['install_s']} s; TensorFlow/PyTorch/JAX: {', '.join(result['forbidden_found']) or 'none'}")
    serve = result.get("serve")
    if serve:
        shown = f"{serve['health_s']} s" if serve["health_s"] is not None else "no answer: " + " | ".join(serve["log_tail"])
        print(f"./run.sh serve -> /health 200: {shown} (budget {HEALTH_BUDGET_S:.0f} s; "
              f"run.sh install finishing the venv took {serve['finish_install_s']} s)")


def save(result: dict) -> None:
    saved = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    key = " + ".join(result["requirements"])
    saved[key] = {**result, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
