"""Mandarin number words: 一百二十三, 两千, 三点五, 二零二四 and phone-style digits with 幺."""

from __future__ import annotations

DIGITS = "零一二三四五六七八九"
_SECTION_UNITS = ("", "万", "亿", "万亿")
_PLACES = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
# Past this many digits a number is an identifier, not a quantity: read it digit by digit.
MAX_CARDINAL_DIGITS = 13  # up to 千亿; longer runs are card and id numbers


def _section(n: int) -> str:
    """1..9999 with 千百十; inner zeros collapse into one 零 (1005 → 一千零五)."""
    out = ""
    zero = False
    for value, place in _PLACES:
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[digit] + place
    return out


def cardinal(n: int, liang: bool = True) -> str:
    """``123`` → 一百二十三, ``10`` → 十, ``100010`` → 十万零一十.

    With ``liang`` a leading 2 before 百/千/万/亿 is read 两 (两千, 两万), as speakers say it;
    a bare 2 stays 二 here: whether it is 两 depends on the measure word after it, which the caller knows.
    """
    if n < 0:
        return "负" + cardinal(-n, liang)
    if n == 0:
        return "零"
    sections = []
    while n:
        n, section = divmod(n, 10000)
        sections.append(section)
    out = ""
    pending_zero = False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            pending_zero = bool(out)
            continue
        if out and (pending_zero or section < 1000):
            out += "零"
        out += _section(section) + _SECTION_UNITS[index]
        pending_zero = False
    if out.startswith("一十"):
        out = out[1:]
    if liang and len(out) > 1 and out[0] == "二" and out[1] in "百千万亿":
        out = "两" + out[1:]
    return out


def digits(text: str, yao: bool = False) -> str:
    """Each digit of ``text`` read alone: 2024 → 二零二四; with ``yao`` 1 is 幺, as in phone numbers."""
    out = "".join(DIGITS[int(c)] for c in text if c.isdigit())
    return out.replace("一", "幺") if yao else out


def decimal(text: str) -> str:
    """``3.14`` → 三点一四, ``-0.5`` → 负零点五; commas in the whole part are ignored."""
    negative = text.startswith("-")
    whole, point, fraction = text.lstrip("-").replace(",", "").partition(".")
    words = cardinal(int(whole), liang=False) if whole else "零"
    if point and fraction:
        words += "点" + digits(fraction)
    return ("负" if negative else "") + words


def number(text: str, liang: bool = True) -> str:
    """A written number: cardinal for quantities, decimals with 点, digit strings for ids (0571, long runs)."""
    plain = text.lstrip("-").replace(",", "")
    if "." in plain:
        return decimal(text)
    if (len(plain) > 1 and plain.startswith("0")) or len(plain) > MAX_CARDINAL_DIGITS:
        return digits(plain)
    return ("负" if text.startswith("-") else "") + cardinal(int(plain), liang)
