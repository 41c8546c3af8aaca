"""Configuration checks when serve and worker start: one sentence and exit code 2, before any request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from digihuman.errors import InvalidInput
from digihuman.startup import check_startup
from tests.conftest import make_settings


def test_a_sound_configuration_passes(tmp_path: Path) -> None:
    check_startup(make_settings(tmp_path / "data"))


@pytest.mark.parametrize(("overrides", "words"), [
    ({"chat": {"base_url": "htp:/nowhere", "models": ["m"]}}, ["DIGIHUMAN_CHAT__BASE_URL", "http(s) URL"]),
    ({"chat": {"base_url": "http://host:port/v1", "models": ["m"]}}, ["DIGIHUMAN_CHAT__BASE_URL", "not a valid URL"]),
    ({"chat": {"llamacpp": {"mine": "/nonexistent/model.gguf"}}}, ["DIGIHUMAN_CHAT__LLAMACPP", "'mine'",
                                                                   "not a file"]),
    ({"redis_url": "redis://127.0.0.1:1/0"}, ["DIGIHUMAN_REDIS_URL", "cannot be reached"]),
    ({"public_url": "localhost:8000"}, ["DIGIHUMAN_PUBLIC_URL"]),
    ({"engine_factory": "no_such_module:build"}, ["DIGIHUMAN_ENGINE_FACTORY", "cannot be loaded"]),
])
def test_misconfigurations_are_named(tmp_path: Path, overrides: dict, words: list[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_startup(make_settings(tmp_path / "data", **overrides))
    assert all(w in caught.value.message for w in words), caught.value.message


def test_a_data_dir_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InvalidInput, match="data dir .* is not writable"):
        check_startup(make_settings(blocker / "data"))


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_start_stops_with_one_sentence_and_code_2(tmp_path: Path, command: str) -> None:
    env = {**os.environ, "DIGIHUMAN_CHAT__LLAMACPP": "mine=/nonexistent/model.gguf"}
    done = subprocess.run([sys.executable, "-m", "digihuman", command, "--data-dir", str(tmp_path / "data")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: DIGIHUMAN_CHAT__LLAMACPP names /nonexistent/model.gguf for model 'mine', which is not a file; "
        "give the path of a .gguf model.")
