"""Cleaning rewrites: reasoning traces, preambles, labels, quotes and closing notes, whole and streamed."""

from __future__ import annotations

import pytest

from digihuman.text.cleanup import StreamCleaner, clean, strip_reasoning

# (what models really answer, the script inside)
ANSWERS = [
    ("Sure! Here is the rewritten script:\n\n\"This blender crushes ice in ten seconds.\"",
     "This blender crushes ice in ten seconds."),
    ("<think>\nThe user wants a spoken version. Keep the numbers: 150 minutes, 1299 yuan.\n</think>\n\n"
     "好的，以下是改写后的口播文案：\n「扫地机器人一次充电能扫150分钟，才1299元！」\n\n（字数：24）",
     "扫地机器人一次充电能扫150分钟，才1299元！"),
    ("<think>\n\n</think>\n\nResearch shows that daily walks improve sleep.",
     "Research shows that daily walks improve sleep."),
    ("Rewrite: The sky is blue because air scatters blue light most.\nNote: I kept the length similar.",
     "The sky is blue because air scatters blue light most."),
    ("**改写后的文案：** 每天走路半小时，心脏更健康。", "每天走路半小时，心脏更健康。"),
    ("“家人们谁懂啊！这个杯子太好用了！”", "家人们谁懂啊！这个杯子太好用了！"),
    # scripts that look like preambles but are not: kept whole
    ("Okay guys, today we talk about why the sky is blue.", "Okay guys, today we talk about why the sky is blue."),
    ("这是一款超好用的保温杯\n才200克", "这是一款超好用的保温杯\n才200克"),
    ("Here comes the best blender of the year, and it costs only 99 dollars.",
     "Here comes the best blender of the year, and it costs only 99 dollars."),
]


@pytest.mark.parametrize(("answer", "script"), ANSWERS)
def test_clean_keeps_only_the_script(answer: str, script: str) -> None:
    assert clean(answer) == script


@pytest.mark.parametrize(("answer", "script"), ANSWERS)
@pytest.mark.parametrize("size", [1, 2, 5, 17])
def test_streaming_sends_the_same_script_in_order(answer: str, script: str, size: int) -> None:
    cleaner, sent = StreamCleaner(), []
    for i in range(0, len(answer), size):
        sent.append(cleaner.feed(answer[i:i + size]))
    sent.append(cleaner.finish())
    assert "".join(sent) == script


def test_a_trace_whose_opening_tag_was_in_the_prompt() -> None:
    answer = "Okay, the script is about sleep, I should keep it short.\n</think>\n\nWalk daily, sleep better."
    assert clean(answer) == "Walk daily, sleep better."
    cleaner = StreamCleaner(reasoning=True)
    out = [cleaner.feed(answer[i:i + 4]) for i in range(0, len(answer), 4)]
    assert "".join(out) + cleaner.finish() == "Walk daily, sleep better."
    assert not any("sleep, I" in piece for piece in out)
    plain = StreamCleaner(reasoning=True)  # a reasoning model that answered without any trace
    assert plain.feed("Walk daily.") == "" and plain.finish() == "Walk daily."


def test_no_piece_of_a_trace_is_streamed_even_when_tags_are_split() -> None:
    pieces = ["<th", "ink>\nLet me th", "ink about 1299.</th", "ink>\n\nNew", " script", "."]
    cleaner = StreamCleaner()
    out = [cleaner.feed(p) for p in pieces]
    assert out[:3] == ["", "", ""]
    assert "".join(out) + cleaner.finish() == "New script."
    assert not any("think" in piece or "1299" in piece for piece in out)


def test_an_unclosed_trace_yields_nothing() -> None:
    assert strip_reasoning("Intro <think>still thinking about") == "Intro "
    assert clean("<think>I ran out of tokens while") == ""


def test_text_is_sent_before_the_answer_ends() -> None:
    cleaner = StreamCleaner()
    first = cleaner.feed("Walk thirty minutes a day and your heart gets healthier.\nSleep ")
    assert first.startswith("Walk thirty minutes a day")
