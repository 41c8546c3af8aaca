"""The text front end: English and Mandarin normalisation, sentences, scripts and chunks."""

from __future__ import annotations

import pytest

from digihuman.speech.frontend import chunk, normalize, split_by_script, split_sentences, text_language
from digihuman.speech.frontend import en_numbers, zh_numbers


@pytest.mark.parametrize(("text", "spoken"), [
    ("I have 123 apples.", "I have one hundred twenty-three apples."),
    ("0", "zero"),
    ("1,000,000", "one million"),
    ("It is 3.14 wide", "It is three point one four wide"),
    ("-5 degrees", "minus five degrees"),
    ("0.5", "zero point five"),
    ("007", "zero zero seven"),
    ("The 1st, 2nd, 3rd and 21st", "The first, second, third and twenty-first"),
    ("the 12th and the 100th", "the twelfth and the one hundredth"),
    ("In 1999 and in 2024", "In nineteen ninety-nine and in twenty twenty-four"),
    ("since 2005", "since two thousand five"),
    ("in 1900", "in nineteen hundred"),
    ("in 1905", "in nineteen oh five"),
    ("the 1990s and '80s", "the nineteen nineties and eighties"),
    ("It costs $12.50 today.", "It costs twelve dollars fifty cents today."),
    ("$1", "one dollar"),
    ("Only $0.99!", "Only ninety-nine cents!"),
    ("$1,000", "one thousand dollars"),
    ("$1.5 million", "one point five million dollars"),
    ("He paid £5.20 and €3", "He paid five pounds twenty pence and three euros"),
    ("¥100", "one hundred yen"),
    ("3.5% growth", "three point five percent growth"),
    ("-2%", "minus two percent"),
    ("Meet at 10:30.", "Meet at ten thirty."),
    ("At 10:05 am", "At ten oh five ay em"),
    ("It's 10:00.", "It's ten o'clock."),
    ("5 pm", "five pee em"),
    ("On March 5, 2024 we met.", "On March fifth, twenty twenty-four we met."),
    ("On 2024-03-05 we met.", "On March fifth, twenty twenty-four we met."),
    ("3/5/2024", "March fifth, twenty twenty-four"),
    ("the 5th of March 2024", "the fifth of March, twenty twenty-four"),
    ("Born July 4th, 1776.", "Born July fourth, seventeen seventy-six."),
    ("5km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("3.5kg", "three point five kilograms"),
    ("25°C", "twenty-five degrees Celsius"),
    ("16GB at 3.2GHz", "sixteen gigabytes at three point two gigahertz"),
    ("60 mph", "sixty miles per hour"),
    ("Call 555-123-4567 now", "Call five five five, one two three, four five six seven now"),
    ("(555) 123-4567", "five five five, one two three, four five six seven"),
    ("+1 555 123 4567", "plus one, five five five, one two three, four five six seven"),
    ("id 13812345678", "id one three eight one two three four five six seven eight"),
    ("Dr. Smith met Mr. Jones on Main St.", "Doctor Smith met Mister Jones on Main Street"),
    ("Mrs. Brown vs. Prof. Green", "Missus Brown versus Professor Green"),
    ("St. Louis", "Saint Louis"),
    ("e.g. apples, i.e. fruit, etc.", "for example apples, that is fruit, et cetera"),
    ("No. 5", "number five"),
    ("1/2 and 3/4 and 2/3", "one half and three quarters and two thirds"),
    ("24/7", "twenty-four seven"),
    ("pages 10-20", "pages ten to twenty"),
    ("2 cats & 3 dogs", "two cats and three dogs"),
    ("I love it 😀🚀!", "I love it!"),
    ("a “quoted” word — and more…", "a quoted word, and more..."),
    ("mp3 files", "mp three files"),
    ("12 x 3", "twelve times three"),
    ("#1 hit", "number one hit"),
])
def test_english(text: str, spoken: str) -> None:
    assert normalize(text, "en") == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("我有123个苹果", "我有一百二十三个苹果"),
    ("10", "十"), ("15", "十五"), ("110", "一百一十"), ("1005", "一千零五"), ("100010", "十万零一十"),
    ("10000", "一万"), ("100000000", "一亿"), ("1,234,567", "一百二十三万四千五百六十七"),
    ("2个人", "两个人"), ("2公里", "两公里"), ("2点", "两点"), ("2000人", "两千人"), ("2万", "两万"),
    ("第2名", "第二名"), ("2月", "二月"), ("2号", "二号"), ("12个", "十二个"), ("22", "二十二"),
    ("今天是2024年3月5日", "今天是二零二四年三月五日"),
    ("2024-03-05", "二零二四年三月五日"),
    ("1998年", "一九九八年"),
    ("增长了3.5%", "增长了百分之三点五"),
    ("-3.2%", "负百分之三点二"),
    ("0.25", "零点二五"),
    ("-5度", "负五度"),
    ("¥100", "一百元"), ("100元", "一百元"), ("12.50元", "十二点五元"), ("价格是$12.50", "价格是十二点五美元"),
    ("2元", "两元"), ("30万元", "三十万元"),
    ("现在是10:30", "现在是十点三十分"), ("10:05开会", "十点零五分开会"), ("2:00", "两点"),
    ("跑了5km", "跑了五公里"), ("温度是25℃", "温度是二十五摄氏度"), ("3kg", "三公斤"),
    ("我的电话是13812345678", "我的电话是幺三八幺二三四五六七八"),
    ("请拨打138-1234-5678", "请拨打幺三八，幺二三四，五六七八"),
    ("010-12345678", "零幺零，幺二三四五六七八"),
    ("01012345678", "零幺零幺二三四五六七八"),
    ("007", "零零七"),
    ("1/2", "二分之一"), ("5-10个", "五到十个"),
    ("３．５％", "百分之三点五"), ("ＡＢＣ１２３", "ABC一百二十三"),
    ("我爱Python😀！", "我爱Python！"),
    ("他说:“你好!”", "他说：你好！"),
    ("3天2夜", "三天两夜"),
])
def test_mandarin(text: str, spoken: str) -> None:
    assert normalize(text, "zh") == spoken


def test_mandarin_phone_digits_without_yao() -> None:
    from digihuman.speech.frontend import zh

    assert zh.normalize("电话13812345678", yao=False) == "电话一三八一二三四五六七八"


def test_other_languages_keep_their_numbers_but_lose_emoji() -> None:
    assert normalize("J'ai 25 ans 😀.", "fr") == "J'ai 25 ans."


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (99, "ninety-nine"), (101, "one hundred one"),
    (1000001, "one million one"), (2_000_000_000, "two billion"),
])
def test_english_cardinals(n: int, words: str) -> None:
    assert en_numbers.cardinal(n) == words


@pytest.mark.parametrize(("n", "words"), [(1, "first"), (5, "fifth"), (12, "twelfth"), (20, "twentieth"),
                                          (33, "thirty-third"), (101, "one hundred first")])
def test_english_ordinals(n: int, words: str) -> None:
    assert en_numbers.ordinal(n) == words


@pytest.mark.parametrize(("n", "words"), [(0, "零"), (20, "二十"), (200, "两百"), (1010, "一千零一十"),
                                          (10_0000_0000, "十亿"), (1_0000_0001, "一亿零一")])
def test_mandarin_cardinals(n: int, words: str) -> None:
    assert zh_numbers.cardinal(n) == words


def test_sentences_split_on_both_kinds_of_punctuation() -> None:
    assert split_sentences("Dr. Smith paid $3.50. Then he left! Did he? Yes.") == [
        "Dr. Smith paid $3.50.", "Then he left!", "Did he?", "Yes."]
    assert split_sentences("你好。今天天气很好！你呢？好的") == ["你好。", "今天天气很好！", "你呢？", "好的"]
    assert split_sentences("It's 10:30 a.m. now. The U.S. is big.") == ["It's 10:30 a.m. now.",
                                                                          "The U.S. is big."]
    assert split_sentences('He said "Hi." Then left.') == ['He said "Hi."', "Then left."]
    assert split_sentences("J. K. Rowling wrote it... And then?") == ["J. K. Rowling wrote it...",
                                                                        "And then?"]
    assert split_sentences("line one\nline two") == ["line one", "line two"]


@pytest.mark.parametrize(("text", "runs"), [
    ("我今年25岁，I love Python 3 and 机器学习。",
     [("zh", "我今年25岁，"), ("latin", "I love Python 3 and"), ("zh", "机器学习。")]),
    ("The price is 100元", [("latin", "The price is"), ("zh", "100元")]),
    ("跑了5km", [("zh", "跑了5km")]),
    ("I paid $12.50, 对吧", [("latin", "I paid $12.50,"), ("zh", "对吧")]),
    ("我有3个apples", [("zh", "我有3个"), ("latin", "apples")]),
    ("Hello, 你好", [("latin", "Hello,"), ("zh", "你好")]),
    ("在2024年3月5日，we met at 10:30.", [("zh", "在2024年3月5日，"), ("latin", "we met at 10:30.")]),
    ("12345", [("latin", "12345")]),
    ("", []),
])
def test_script_runs(text: str, runs: list[tuple[str, str]]) -> None:
    assert split_by_script(text) == runs


def test_text_without_letters_takes_the_default_script() -> None:
    assert split_by_script("12345", default="zh") == [("zh", "12345")]


@pytest.mark.parametrize("max_chars", [100, 150, 200, 300])
def test_chunks_respect_the_length_and_keep_every_word(max_chars: int) -> None:
    english = ("This is a long sentence, with several clauses, and numbers like 1,234,567 and 3.14, which "
               "must never be split; it goes on and on. ") * 6
    chinese = "这是一个很长的句子，里面有很多逗号，还有数字12345，我们需要把它切成小块，每一块都不能太长。" * 8
    for text in (english, chinese, "字" * 700):
        pieces = chunk(text, max_chars)
        assert all(0 < len(p) <= max_chars for p in pieces)
        assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    pieces = chunk(english, max_chars)
    assert all(p.endswith((".", ",", ";")) for p in pieces)  # cut at sentence or clause ends
    assert all("1,234,567" in p for p in pieces if "1,234" in p)  # numbers stay whole


def test_chunks_pack_whole_sentences() -> None:
    assert chunk("One. Two. Three.", 100) == ["One. Two. Three."]
    assert chunk("一句话。两句话。", 100) == ["一句话。两句话。"]
    assert chunk("First sentence here. Second sentence here.", 25) == ["First sentence here.",
                                                                        "Second sentence here."]


def test_text_language_follows_the_script_most_of_it_is_in() -> None:
    assert text_language("Good morning, everyone.") == "en"
    assert text_language("早上好，大家。") == "zh"
    assert text_language("我今天用 iPhone 拍了视频") == "zh"  # a Latin word in Chinese text
    assert text_language("The word 你好 means hello") == "en"
    assert text_language("2024!") == "en"
