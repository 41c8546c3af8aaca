"""Subtitle timing (script aligned to recognised words), cues and CJK-aware wrapping."""

from __future__ import annotations

import numpy as np
import pytest

from digihuman.remix.lettering import breakable_pieces, font, wrap
from digihuman.remix.options import SubtitleStyle
from digihuman.remix.subtitles import SubtitleLayer, cues, timed_units
from digihuman.timeline import Word


def words(*spec: tuple[str, float, float]) -> list[Word]:
    return [Word(t, a, b) for t, a, b in spec]


def test_the_script_is_shown_with_the_timing_of_the_words_heard() -> None:
    heard = words(("welcome", 0.5, 0.9), ("too", 1.0, 1.2), ("the", 1.2, 1.3), ("show", 1.3, 1.8))
    timed = timed_units("Welcome to the show!", heard, 3.0)
    assert [u.text for u in timed] == ["Welcome ", "to ", "the ", "show!"]
    # "to" was heard as "too": it takes that word's time; the rest match exactly
    assert [(u.start, u.end) for u in timed] == [(0.5, 0.9), (1.0, 1.2), (1.2, 1.3), (1.3, 1.8)]


def test_script_words_never_heard_share_the_gap_between_their_neighbours() -> None:
    timed = timed_units("one two three four", words(("one", 0.0, 0.5), ("four", 2.0, 2.5)), 3.0)
    middle = timed[1:3]
    assert middle[0].start == 0.5 and middle[-1].end == 2.0 and middle[0].end == middle[1].start


def test_chinese_characters_are_timed_one_by_one() -> None:
    heard = words(("大", 0.0, 0.2), ("家", 0.2, 0.4), ("好", 0.4, 0.6))
    timed = timed_units("大家好！", heard, 1.0)
    assert [u.text for u in timed] == ["大", "家", "好！"] and timed[2].start == 0.4


def test_without_any_timing_the_script_spreads_over_the_video() -> None:
    timed = timed_units("a bb", [], 3.0)
    assert timed[0].start == 0 and timed[-1].end == 3.0


def test_cues_end_at_sentences_and_long_pauses() -> None:
    heard = words(("one", 0, 0.3), ("two", 0.3, 0.6), ("three", 0.7, 1.0), ("four", 3.0, 3.3), ("five", 3.3, 3.6))
    shown = cues(timed_units("One two. Three four five", heard, 4.0), 20, 1000, 2)
    assert [c.text for c in shown] == ["One two.", "Three", "four five"]
    assert shown[0].start == 0 and shown[0].end <= shown[1].start and shown[2].start == 3.0


def test_cues_that_would_overflow_their_lines_are_split() -> None:
    script = " ".join(f"word{i}" for i in range(40))
    heard = words(*((f"word{i}", i * 0.1, i * 0.1 + 0.1) for i in range(40)))
    shown = cues(timed_units(script, heard, 5.0), 20, 200, 2)
    assert len(shown) > 2
    assert all(len(wrap(c.text, 20, 200)) <= 2 for c in shown)
    assert " ".join(c.text for c in shown) == script


def test_chinese_wraps_between_characters_and_keeps_punctuation_off_line_starts() -> None:
    text = "今天我们来聊一聊，如何用手机拍出好看的视频。第一步，找到好的光线。"
    lines = wrap(text, 24, 24 * 7.5)
    assert len(lines) > 2 and "".join(lines) == text
    assert all(font(24).getlength(line) <= 24 * 7.5 + 24 for line in lines)  # punctuation may hang
    assert not any(line[0] in "，。" for line in lines)
    assert breakable_pieces("好，的 word ok") == ["好，", "的 ", "word ", "ok"]


def test_the_layer_draws_only_while_a_cue_shows_and_only_in_the_bottom_band() -> None:
    layer = SubtitleLayer.build("Hello world.", words(("hello", 1.0, 1.4), ("world", 1.4, 1.8)), 4.0,
                                SubtitleStyle(), 320, 240)
    blank = np.full((240, 320, 3), 90, np.uint8)
    assert np.array_equal(layer(blank.copy(), 0.5), blank)
    drawn = layer(blank.copy(), 1.5)
    rows = np.flatnonzero(np.any(drawn != blank, axis=(1, 2)))
    assert rows.size and rows.min() >= layer.top() and rows.max() < 240
    assert np.any(np.all(drawn > 240, axis=2))  # white letters


def test_words_heard_in_a_pause_are_moved_onto_their_sound() -> None:
    from digihuman.remix.subtitles import onto_speech

    rate = 16000
    t = np.arange(rate) / rate
    syllables = np.abs(np.sin(2 * np.pi * 2.5 * t)) ** 0.3  # speech-like: loud and quiet in turn
    burst = (0.5 * np.sin(2 * np.pi * 220 * t) * syllables).astype(np.float32)
    hiss = np.random.default_rng(0).normal(0, 1e-3, 4 * rate).astype(np.float32)
    sound = np.concatenate([burst, np.zeros(2 * rate, np.float32), burst]) + hiss  # speech at 0-1 s and 3-4 s
    heard = words(("early", 0.0, 0.9), ("slipped", 2.4, 2.9), ("late", 2.9, 3.5), ("ok", 3.5, 3.9))
    snapped = onto_speech(heard, sound, rate)
    assert [w.start for w in snapped] == pytest.approx([0.0, 3.0, 3.0, 3.5], abs=0.03)
    # ends are kept unless the word moved past them
    assert snapped[1].end == pytest.approx(3.0, abs=0.03) and snapped[2].end == 3.5
