"""Rewrite presets: prompts for base and chat models, language, length, cleaning, routing by name."""

from __future__ import annotations

import pytest

from digihuman.errors import BackendFailed, InvalidInput
from digihuman.text.base import ChatMessage, ChatRequest, PromptRequest
from digihuman.text.presets import STYLES, RewritePresets, flaws, job_of, language, length, surviving_grams
from digihuman.text.router import ChatRouter
from tests.text.chat_fakes import ScriptedModel

ZH_SCRIPT = "这款扫地机器人搭载激光导航，一次充电可以连续清扫150分钟，还能自动回充，价格只要1299元。"
EN_SCRIPT = "Our new running shoes weigh only 180 grams, have a carbon plate, and cost 129 dollars."


def ask(model: str, script: str, *extra: ChatMessage) -> ChatRequest:
    return ChatRequest(model, (*extra, ChatMessage("user", script)))


def presets(backend: ScriptedModel) -> ChatRouter:
    router = ChatRouter([backend])
    return ChatRouter([RewritePresets(router, backend.name), router])


def test_presets_are_offered_beside_the_backend_models() -> None:
    chat = presets(ScriptedModel())
    assert chat.models() == ["rewrite-口播", "rewrite-xiaohongshu", "rewrite-formal", "scripted"]


@pytest.mark.parametrize("model", list(STYLES))
def test_a_base_model_gets_a_few_shot_prompt_in_the_scripts_language(model: str) -> None:
    backend = ScriptedModel(answer=lambda s: s.replace("扫地机器人", "扫地机") + "\n\n原文：下一条")
    result = presets(backend).complete(ask(model, ZH_SCRIPT))
    prompt = backend.requests[-1]
    assert isinstance(prompt, PromptRequest) and prompt.model == "scripted"
    assert prompt.prompt.endswith(f"原文：{ZH_SCRIPT}\n改写：")
    assert prompt.prompt.count("原文：") == 3  # two examples, then the script
    assert "Original:" not in prompt.prompt and "\n\n" in prompt.stop
    assert result.text == ZH_SCRIPT.replace("扫地机器人", "扫地机")  # cut at the stop, nothing after


def test_english_scripts_get_english_examples() -> None:
    backend = ScriptedModel()
    presets(backend).complete(ask("rewrite-formal", EN_SCRIPT))
    prompt = backend.requests[-1].prompt  # type: ignore[attr-defined]
    assert prompt.endswith(f"Original: {EN_SCRIPT}\nRewrite:") and "原文" not in prompt
    assert "formal" in prompt.split("\n", 1)[0]


def test_a_chat_model_gets_a_system_prompt_and_examples_as_turns() -> None:
    backend = ScriptedModel(base=False, answer=lambda s: "Sure! Here is the rewrite:\n\"" + s.lower() + "\"")
    result = presets(backend).complete(ask("rewrite-xiaohongshu", EN_SCRIPT,
                                           ChatMessage("system", "Mention the brand Zoom.")))
    sent = backend.requests[-1]
    assert isinstance(sent, ChatRequest)
    roles = [m.role for m in sent.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Xiaohongshu" in sent.messages[0].content and "Mention the brand Zoom." in sent.messages[0].content
    assert f"about {length(EN_SCRIPT, 'en')} words" in sent.messages[0].content
    assert sent.messages[-1].content == EN_SCRIPT
    assert result.text == EN_SCRIPT.lower()  # preamble and quotes gone


def test_streaming_a_preset_sends_clean_pieces() -> None:
    backend = ScriptedModel(base=False, piece=2,
                            answer=lambda s: "<think>\nkeep 150 and 1299\n</think>\n\n好的，改写如下：\n「" + s + "」")
    pieces = list(presets(backend).stream(ask("rewrite-口播", ZH_SCRIPT)))
    assert "".join(pieces) == ZH_SCRIPT and len(pieces) > 5
    assert not any("think" in p or "改写如下" in p or "「" in p for p in pieces)


def test_length_is_held_near_the_original() -> None:
    rambling = "Our shoes weigh 180 grams. " + "They are great and you will love them. " * 10
    chat = presets(ScriptedModel(base=False, answer=lambda s: rambling))
    text = chat.complete(ask("rewrite-口播", EN_SCRIPT)).text
    assert text.endswith(".")  # cut at a sentence end
    assert length(text, "en") <= length(EN_SCRIPT, "en") * 1.3
    streamed = "".join(chat.stream(ask("rewrite-口播", EN_SCRIPT)))
    assert streamed == text


def test_a_length_asked_for_is_used() -> None:
    job = job_of(ask("rewrite-口播", ZH_SCRIPT, ChatMessage("system", "改写成30字左右")))
    assert (job.lang, job.target, job.script) == ("zh", 30, ZH_SCRIPT)
    job = job_of(ask("rewrite-formal", "In about 12 words:\n" + EN_SCRIPT))
    assert (job.lang, job.target, job.script) == ("en", 12, EN_SCRIPT)
    backend = ScriptedModel(base=False)
    presets(backend).complete(ask("rewrite-formal", "In about 12 words:\n" + EN_SCRIPT))
    assert "about 12 words" in backend.requests[-1].messages[0].content  # type: ignore[attr-defined]


def test_language_detection() -> None:
    assert language(ZH_SCRIPT) == "zh" and language(EN_SCRIPT) == "en"
    assert language("iPhone 16 Pro 的A18芯片性能提升了百分之二十") == "zh"
    assert length("扫地机器人，150分钟", "zh") == 7 and length("Only 180 grams!", "en") == 3


def test_errors_say_what_to_fix() -> None:
    chat = presets(ScriptedModel(answer=lambda s: "\n\n"))
    with pytest.raises(BackendFailed, match="no usable rewrite"):
        chat.complete(ask("rewrite-formal", EN_SCRIPT))
    with pytest.raises(InvalidInput, match="no script"):
        chat.complete(ChatRequest("rewrite-formal", (ChatMessage("system", "be formal"),)))
    with pytest.raises(InvalidInput, match="unknown model 'rewrite-poem'"):
        chat.complete(ask("rewrite-poem", EN_SCRIPT))


def test_a_base_model_is_sampled_until_a_rewrite_looks_right() -> None:
    answers = iter([
        ZH_SCRIPT,  # a copy
        "扫地机器人很好用。",  # too short, numbers lost
        "激光导航的扫地机器人，充一次电能连扫150分钟，电不够了自己回去充，现在活动价1299元就能带回家。",
        "never asked for",
    ])
    backend = ScriptedModel(answer=lambda s: next(answers))
    result = presets(backend).complete(ask("rewrite-口播", ZH_SCRIPT))
    assert result.text.startswith("激光导航的扫地机器人") and len(backend.requests) == 3
    temperatures = [r.temperature for r in backend.requests]  # type: ignore[attr-defined]
    assert temperatures[0] < temperatures[1] < temperatures[2]
    assert flaws(job_of(ask("rewrite-口播", ZH_SCRIPT)), result.text) <= 0.3
    assert surviving_grams(ZH_SCRIPT, ZH_SCRIPT) == 1.0 and surviving_grams(ZH_SCRIPT, "完全不同的话") == 0.0


def test_an_answer_off_the_topic_counts_as_flawed() -> None:
    script = "这两天央视播出了有关扫黑除恶的专题片，披露了不少案件的细节。"
    job = job_of(ask("rewrite-口播", script))
    on_topic = "最近央视播了扫黑除恶的专题大片，讲了很多案件细节。"
    off_topic = "今天我最喜欢的是烤土豆，土豆的口感特别绵软，真好吃。"
    assert flaws(job, on_topic) < 0.5 < flaws(job, off_topic)
