"""Pytest fixtures that start private, throw-away Redis, PostgreSQL and S3 (moto) servers.

Each server runs on a free 127.0.0.1 port with its files in a fresh temp dir, so
tests never touch (or need) a system service. Missing binaries skip the tests (which
fail instead under ./run.sh test: see tests/conftest.py). A server that does not come up
in time always fails, with its log tail.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_TIMEOUT = 10.0  # seconds until redis-server must answer PING
PG_TIMEOUT = 30.0  # seconds per initdb / pg_ctl start; a cold cluster on a busy 2-core box is slower
S3_TIMEOUT = 60.0  # seconds until moto's server answers; importing it takes seconds on a busy box


@dataclass(frozen=True)
class Service:
    url: str


def _missing(what: str) -> None:
    pytest.skip(f"{what} not installed")


def _sigterm_runs_teardown() -> None:
    """Plain SIGTERM (CI timeout, `kill`) skips teardown and atexit, orphaning the servers (pg_ctl
    detaches postgres): turn it into KeyboardInterrupt, which pytest unwinds cleanly."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _answers_ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:  # refused / still loading
        return False


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server: no persistence (--save "", no AOF), dump dir in a temp dir."""
    exe = shutil.which("redis-server")
    if exe is None:
        _missing("redis-server")
    _sigterm_runs_teardown()
    tmp = Path(tempfile.mkdtemp(prefix="digihuman-redis-"))
    port, log = _free_port(), tmp / "redis.log"
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*args, "--dir", str(tmp)], stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        if proc.poll() is None:  # nothing is persisted, so there is nothing to shut down gracefully
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)  # backstop should the session end without fixture teardown
    try:
        deadline = time.monotonic() + REDIS_TIMEOUT
        one_try = {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": Retry(NoBackoff(), 0)}
        with redis.Redis("127.0.0.1", port, **one_try) as client:  # the loop below does the retrying
            while proc.poll() is not None or not _answers_ping(client):
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = "timed out" if proc.poll() is None else f"exited with {proc.returncode}"
                    pytest.fail(f"redis-server on port {port} {why}; log tail:\n{_tail(log)}", pytrace=False)
                time.sleep(0.05)
        yield Service(url=f"redis://127.0.0.1:{port}/0")
    finally:
        stop()
        atexit.unregister(stop)


@pytest.fixture
def redis_url(redis_server: Service) -> str:
    """The session server's URL, emptied (FLUSHALL, every logical DB) before each test."""
    with redis.Redis.from_url(redis_server.url, socket_connect_timeout=2, socket_timeout=5) as client:
        client.flushall()
    return redis_server.url


def _pg_bindir() -> Path | None:
    """Dir of initdb/pg_ctl: PATH, else the newest /usr/lib/postgresql/N/bin (Debian keeps them there)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent  # pg_ctl finds `postgres` next to itself
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(dirs[-1]).parent if dirs else None


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL cluster (trust auth, fsync off) with an empty `digihuman_test` DB.

    PostgreSQL refuses to run as root, so as root every server command goes through `runuser -u
    postgres` (util-linux; no password or PAM login needed), and the temp dir is chowned to that
    user and made 0755 so it can be traversed."""
    bindir = _pg_bindir()
    if bindir is None:
        _missing("PostgreSQL server (initdb/pg_ctl)")
    _sigterm_runs_teardown()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # On tmpfs a CREATE DATABASE takes ~10 ms, on ext4 ~250 ms; a Docker-default 64 MB shm is too small.
    shm = os.access("/dev/shm", os.W_OK) and shutil.disk_usage("/dev/shm").free > 1 << 30
    tmp = Path(tempfile.mkdtemp(prefix="digihuman-pg-", dir="/dev/shm" if shm else None))
    tmp.chmod(0o755)
    port, data, sock, log = _free_port(), tmp / "data", tmp / "sock", tmp / "postgres.log"
    sock.mkdir()
    log.touch()  # pre-created so both we (root) and pg_ctl (postgres) can append to it
    if as_user:  # initdb creates data/ itself, owned by postgres, mode 0700
        for path in (tmp, sock, log):
            shutil.chown(path, "postgres", "postgres")

    def run(*cmd: str, timeout: float = PG_TIMEOUT) -> int:
        """Run a server command as the cluster owner, output to the log; a timeout is noted there."""
        with open(log, "ab") as out:
            proc = subprocess.Popen([*as_user, *cmd], cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()  # not kill(): runuser passes SIGTERM on to the command it forked
                proc.wait(timeout=10)  # runuser SIGKILLs its child and exits 2 s after a SIGTERM
                out.write(f"\n*** {Path(cmd[0]).name} timed out after {timeout:g}s\n".encode())
                return -1

    def stop() -> None:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "10", "stop", timeout=15)
        try:  # postmaster.pid still there: pg_ctl could not stop it, so kill it
            os.kill(int((data / "postmaster.pid").read_text().split()[0]), 9)
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)
    try:
        rc = run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "digihuman",
                 "-E", "UTF8", "--no-locale", "--no-sync")
        opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        if rc == 0:  # -w: pg_ctl itself waits (bounded by -t) until connections are accepted
            rc = run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w",
                     "-t", str(int(PG_TIMEOUT)), "start", timeout=PG_TIMEOUT + 5)
        if rc != 0:
            pytest.fail(f"PostgreSQL failed to start (port {port}); log tail:\n{_tail(log)}", pytrace=False)
        base = f"postgresql://digihuman@127.0.0.1:{port}"
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE DATABASE digihuman_test")
        yield Service(url=f"{base}/digihuman_test")
    finally:
        stop()
        atexit.unregister(stop)


@pytest.fixture
def postgres_url(postgres_server: Service):
    """URL of a brand-new database for this test only; dropped (WITH (FORCE)) afterwards."""
    base, name = postgres_server.url.rsplit("/", 1)[0], f"t_{uuid.uuid4().hex}"
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_server():
    """A private S3-compatible server (moto's, in memory) on a free port; its URL is http://host:port."""
    import importlib.util
    import sys
    import urllib.error
    import urllib.request

    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        _missing("moto[server] (the S3 test server)")
    _sigterm_runs_teardown()
    tmp = Path(tempfile.mkdtemp(prefix="digihuman-s3-"))
    port, log = _free_port(), tmp / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp)

    def stop() -> None:
        if proc.poll() is None:  # everything is in its memory, so there is nothing to shut down gracefully
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)
    try:
        deadline, url = time.monotonic() + S3_TIMEOUT, f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except urllib.error.HTTPError:  # an answer all the same
                break
            except OSError:  # refused while it starts
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = "timed out" if proc.poll() is None else f"exited with {proc.returncode}"
                    pytest.fail(f"moto's S3 server on port {port} {why}; log tail:\n{_tail(log)}",
                                pytrace=False)
                time.sleep(0.1)
        yield Service(url=url)
    finally:
        stop()
        atexit.unregister(stop)


@pytest.fixture
def s3_storage_url(s3_server: Service) -> str:
    """DIGIHUMAN_STORAGE_URL of a new, empty bucket for this test only on the session's S3 server."""
    from minio import Minio

    host = s3_server.url.removeprefix("http://")
    bucket = f"t-{uuid.uuid4().hex}"
    client = Minio(host, access_key="test", secret_key="test-secret", secure=False, region="us-east-1")
    client.make_bucket(bucket)
    return f"s3://test:test-secret@{host}/{bucket}?secure=0&region=us-east-1"
