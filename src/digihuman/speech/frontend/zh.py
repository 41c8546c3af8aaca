"""Mandarin text normalisation: digits, dates, times, money, percentages, units and symbols as Hanzi.

The Mandarin voice can only say Hanzi; anything else it silently skips. So every
number has to become characters here, read the way a speaker would: years digit by
digit (二零二四年), quantities as cardinals (一百二十三), 两 before a measure word
(两个, 两点), phone numbers digit by digit (幺 for 1 when ``yao``). Latin words are
left alone: the catalogue sends them to the English voice.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from digihuman.speech.frontend import zh_numbers as num
from digihuman.speech.frontend.symbols import clean, squeeze

NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
# Measure words (and units already in Hanzi) before which 2 is 两, not 二. Not 月/日/号: 二月 is February.
_MEASURE_WORDS = set("个位只条件本张次天年岁名台辆家种部份双对片把杯瓶碗块元角毛分秒周倍层斤克吨架艘座间所门节场"
                     "首句段篇幅袋盒箱点项人口头匹棵朵颗届期套辈粒滴盘遍趟声圈步里夜晚")
_MEASURE_PREFIXES = ("小时", "分钟", "星期", "公里", "公斤", "千克", "毫升", "美元", "欧元", "英镑", "日元",
                     "港币", "万", "千", "百", "亿")
_CURRENCIES = {"$": "美元", "¥": "元", "€": "欧元", "£": "英镑", "₹": "卢比", "₩": "韩元"}
_MONEY_WORDS = "元|块|美元|欧元|英镑|日元|港币|港元|人民币|卢比|韩元"
_UNITS = {"km/h": "公里每小时", "m/s": "米每秒", "km²": "平方公里", "m²": "平方米", "㎡": "平方米",
          "km": "公里", "cm": "厘米", "mm": "毫米", "kg": "公斤", "mg": "毫克", "ml": "毫升", "mL": "毫升",
          "°C": "摄氏度", "℃": "摄氏度", "°F": "华氏度", "°": "度", "TB": "太字节", "GB": "吉字节",
          "MB": "兆字节", "KB": "千字节", "GHz": "吉赫兹", "MHz": "兆赫兹", "kHz": "千赫兹", "Hz": "赫兹",
          "kWh": "千瓦时", "kW": "千瓦", "mAh": "毫安时", "ms": "毫秒", "min": "分钟", "m": "米", "g": "克",
          "t": "吨", "L": "升", "l": "升", "W": "瓦", "V": "伏", "s": "秒", "h": "小时"}
_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_UNIT_PATTERN = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
# Words after which a digit string is an identifier (phone, account, room...), read digit by digit.
_ID_CONTEXT = "电话|手机|号码|热线|拨打|致电|尾号|验证码|编号|单号|账号|卡号|QQ|微信|房间|工号|学号|车次|航班"
_SYMBOLS = {"+": "加", "=": "等于", "×": "乘以", "÷": "除以", "~": "到", "&": "和", "@": "艾特",
            "%": "百分号", "‰": "千分号"}
_PUNCTUATION = str.maketrans({",": "，", "!": "！", "?": "？", ";": "；", ":": "：", "(": "，", ")": "，",
                              "（": "，", "）": "，", "—": "，", "…": "。"})


def _quantity(text: str, after: str) -> str:
    """A cardinal whose 2 becomes 两 when a measure word follows."""
    measured = after[:1] in _MEASURE_WORDS or after.startswith(_MEASURE_PREFIXES)
    if text.lstrip("-").replace(",", "") == "2" and measured:
        return ("负" if text.startswith("-") else "") + "两"
    return num.number(text)


def _after(m: re.Match[str], group: int = 0) -> str:
    return m.string[m.end(group):m.end(group) + 2].lstrip()


def _date(m: re.Match[str]) -> str:
    month, day = int(m[2]), int(m[3])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m[0]
    return f"{num.digits(m[1])}年{num.cardinal(month, False)}月{num.cardinal(day, False)}日"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m[1]), int(m[2])
    if hour > 24 or minute > 59:
        return m[0]
    words = ("两" if hour == 2 else num.cardinal(hour)) + "点"
    if minute:
        words += ("零" if minute < 10 else "") + num.cardinal(minute) + "分"
    if m[3] and int(m[3]):
        words += num.cardinal(int(m[3])) + "秒"
    return words


def _money_amount(amount: str, after: str) -> str:
    # Trailing zeros of a price are not read: 12.50元 is 十二点五元.
    if "." in amount:
        amount = amount.rstrip("0").rstrip(".")
    return _quantity(amount, after)


def _digit_groups(text: str, yao: bool) -> str:
    # Where the writer grouped the digits, the reader pauses.
    prefix = "加" if text.lstrip().startswith("+") else ""
    return prefix + "，".join(num.digits(g, yao) for g in re.findall(r"\d+", text))


def _phone(m: re.Match[str], yao: bool) -> str:
    if sum(c.isdigit() for c in m[0]) < 7:
        return m[0]
    return _digit_groups(m[0], yao)


def _fraction(m: re.Match[str]) -> str:
    return f"{num.cardinal(int(m[2]), False)}分之{num.cardinal(int(m[1]), False)}"


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]


@functools.cache
def _rules(yao: bool) -> list[Rule]:
    phone: Callable[[re.Match[str]], str] = lambda m: _phone(m, yao)  # noqa: E731
    return [
        (re.compile(r"(?<![\d.-])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d.-])"), _date),
        (re.compile(r"(?<![\d.])(\d{4})(?=\s?年)"), lambda m: num.digits(m[1])),
        (re.compile(r"'(\d{2})(?=\s?年)"), lambda m: num.digits(m[1])),
        (re.compile(r"(?<![\d.])(\d{1,2})(?=\s?(?:月|日|号))"), lambda m: num.cardinal(int(m[1]), False)),
        (re.compile(r"(?<![\d.])(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?(?![\d])"), _time),
        (re.compile(rf"({_ID_CONTEXT})([是为：:\s]*)(\+?\d[\d\- ]{{2,}}\d)"),
         lambda m: m[1] + m[2] + _digit_groups(m[3], yao)),
        (re.compile(r"(?<![\d.])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![\d.])"), phone),
        (re.compile(r"(?<![\d.])(?:0\d{2,3}[- ]\d{7,8}|[48]00[- ]?\d{3}[- ]?\d{4})(?![\d.])"), phone),
        (re.compile(r"(?<![\d.,+-])\+?\d{2,4}(?:[ -]\d{2,4}){2,}(?![\d.,-])"), phone),
        # A long run with a leading 0 is a phone number (an area code); a short one an id like 007.
        (re.compile(r"(?<![\d.,])0\d{6,}(?![\d.,])"), lambda m: num.digits(m[0], yao)),
        (re.compile(r"(?<![\d.,])0\d+(?![\d.,])"), lambda m: num.digits(m[0], False)),
        (re.compile(rf"([$¥€£₹₩])\s?({NUMBER})\s?(万亿|万|亿|千)?"),
         lambda m: _money_amount(m[2], m[3] or "元") + (m[3] or "") + _CURRENCIES[m[1]]),
        (re.compile(rf"(-?{NUMBER})(?=\s?(?:万|亿)?(?:{_MONEY_WORDS}))"),
         lambda m: _money_amount(m[1], _after(m))),
        (re.compile(rf"(-?)({NUMBER})\s?[%％]"),
         lambda m: ("负" if m[1] else "") + "百分之" + num.number(m[2], False)),
        (re.compile(rf"({NUMBER})\s?‰"), lambda m: "千分之" + num.number(m[1], False)),
        (re.compile(rf"(-?{NUMBER})\s?({_UNIT_PATTERN})(?![A-Za-z²/])"),
         lambda m: _quantity(m[1], "个") + _UNITS[m[2]]),
        (re.compile(r"第\s?(\d+)"), lambda m: "第" + num.cardinal(int(m[1]), False)),
        (re.compile(rf"(?<![\d.,])({NUMBER})\s?[-~～–—至]\s?({NUMBER})(?![\d.,])"),
         lambda m: num.number(m[1]) + "到" + _quantity(m[2], _after(m))),
        (re.compile(r"(?<![\d./])(\d+)/(\d+)(?![\d/])"), _fraction),
        (re.compile(r"\d+(?:\.\d+){2,}"), lambda m: "点".join(num.number(p) for p in m[0].split("."))),
        (re.compile(r"(?<![\w.)-])-(?=\d)"), "负"),
        (re.compile(NUMBER), lambda m: _quantity(m[0], _after(m))),
    ]


def normalize(text: str, yao: bool = True) -> str:
    """Mandarin ``text`` with every number and symbol as the Hanzi a speaker would say.

    ``yao``: read 1 as 幺 in phone numbers and other digit-by-digit identifiers.
    """
    text = clean(text)
    for pattern, replacement in _rules(yao):
        text = pattern.sub(replacement, text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = text.translate(_PUNCTUATION)
    # A period is a sentence end unless it sits inside a Latin abbreviation ("U.S.").
    text = re.sub(r"(?<![A-Za-z])\.|\.(?![A-Za-z])", "。", text)
    text = re.sub(r"[\"'“”‘’《》「」『』【】〈〉\[\]{}<>|\\/*#^_`]", " ", text)
    text = re.sub(r"[，。！？；：、]*([。！？])[，。！？；：、]*", r"\1", text)
    text = re.sub(r"，[，、；：]+", "，", text)
    text = squeeze(text)
    text = re.sub(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])", "", text)
    return text.lstrip("，。！？；：、 ")
