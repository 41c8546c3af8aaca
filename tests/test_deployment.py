"""The container files agree with the code: the image installs by ./run.sh (what CI runs), and every
command and DIGIHUMAN_* variable compose.yaml gives is one the server accepts."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from unittest import mock

import yaml

from digihuman.cli import build_parser
from digihuman.config import Settings
from digihuman.tasks.kinds import GROUPS, parse_groups

ROOT = Path(__file__).parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_the_image_installs_with_run_sh_on_the_pinned_base() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", dockerfile, re.M)
    assert re.search(r"^RUN \./run\.sh install\b", dockerfile, re.M)
    # run.sh knows the subcommand, and serve and test go through the same install function.
    run_sh = (ROOT / "run.sh").read_text()
    assert re.search(r"^  install\)\n    shift\n    install \"\$@\"", run_sh, re.M)
    assert re.search(r"^    install\b.*\n    exec \.venv/bin/digihuman serve", run_sh, re.M)
    assert "    install --dev\n" in run_sh
    usage = subprocess.run(["bash", str(ROOT / "run.sh")], capture_output=True, text=True)
    assert usage.returncode == 2 and "./run.sh install" in usage.stdout


def test_compose_runs_an_api_and_workers_that_split_every_group() -> None:
    services = _compose()["services"]
    assert {"api", "render", "worker", "postgres", "redis", "minio"} <= set(services)
    parser = build_parser()
    served: list[str] = []
    for name in ("api", "render", "worker"):
        args = parser.parse_args(services[name]["command"])  # the real CLI accepts them
        if args.command == "worker":
            served += parse_groups(args.kinds)
    assert sorted(served) == sorted(GROUPS)  # every group has a worker, none has two kinds of worker
    assert parser.parse_args(services["api"]["command"]).workers == 0


def test_compose_variables_are_settings_the_server_reads() -> None:
    services = _compose()["services"]
    for name in ("api", "render", "worker"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        assert {"DIGIHUMAN_DATABASE_URL", "DIGIHUMAN_REDIS_URL", "DIGIHUMAN_STORAGE_URL"} <= set(env)
        with mock.patch.dict(os.environ, env, clear=True):
            settings = Settings()
        assert settings.database_url == env["DIGIHUMAN_DATABASE_URL"]
        assert settings.redis_url == env["DIGIHUMAN_REDIS_URL"]
        assert settings.storage_url == env["DIGIHUMAN_STORAGE_URL"]
        assert settings.storage.public_endpoint == env["DIGIHUMAN_STORAGE__PUBLIC_ENDPOINT"]
