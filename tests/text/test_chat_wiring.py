"""Which chat backends and preset model the settings give (engines._chat)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from digihuman.config import Settings
from digihuman.engines import _chat
from digihuman.errors import InvalidInput
from digihuman.text import gguf_models
from digihuman.text.presets import RewritePresets

PRESETS = ["rewrite-口播", "rewrite-xiaohongshu", "rewrite-formal"]


def settings(tmp_path: Path, **chat: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models", chat=chat)  # type: ignore[arg-type]


def preset_model(chat: object) -> str:
    presets = chat.backends[0]  # type: ignore[attr-defined]
    assert isinstance(presets, RewritePresets)
    return presets.model


@pytest.mark.skipif(not gguf_models.gemma_installed(), reason="the bundled Gemma is not installed")
def test_zero_config_offers_the_presets_on_the_bundled_gemma(tmp_path: Path) -> None:
    chat = _chat(settings(tmp_path))
    assert chat is not None and chat.models() == [*PRESETS, "gemma3-270m"]
    assert preset_model(chat) == "gemma3-270m"


def test_the_best_installed_model_backs_the_presets(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    chat = _chat(settings(tmp_path, llamacpp=f"mine={gguf}", bundled=False))
    assert chat.models() == [*PRESETS, "mine"] and preset_model(chat) == "mine"  # type: ignore[union-attr]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / gguf_models.OPTIONAL["deepseek-r1-7b"].file).write_bytes(b"GGUF")
    chat = _chat(settings(tmp_path, bundled=False))
    assert chat.models() == [*PRESETS, "deepseek-r1-7b"] and preset_model(chat) == "deepseek-r1-7b"  # type: ignore[union-attr]
    remote = _chat(settings(tmp_path, base_url="http://llm.test/v1", models="big,small", bundled=False))
    assert remote.models() == [*PRESETS, "big", "small", "deepseek-r1-7b"]  # type: ignore[union-attr]
    assert preset_model(remote) == "big"
    chosen = _chat(settings(tmp_path, base_url="http://llm.test/v1", models="big,small", rewrite_model="small"))
    assert preset_model(chosen) == "small"


def test_misconfiguration_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="DIGIHUMAN_CHAT__REWRITE_MODEL names 'gpt-9'"):
        _chat(settings(tmp_path, rewrite_model="gpt-9", llamacpp="a=/x.gguf"))
    with pytest.raises(ValidationError, match="name=/path/model.gguf"):
        settings(tmp_path, llamacpp="just-a-path.gguf")
    assert _chat(settings(tmp_path, bundled=False)) is None  # nothing to offer: the routes answer 503
