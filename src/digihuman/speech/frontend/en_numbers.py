"""English number words: cardinals, ordinals, years, decimals and digit strings (American usage)."""

from __future__ import annotations

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10**15, "quadrillion"), (10**12, "trillion"), (10**9, "billion"), (10**6, "million"),
          (1000, "thousand"))
_IRREGULAR_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                       "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
# Past this many digits a number is an identifier, not a quantity: read it digit by digit.
MAX_CARDINAL_DIGITS = 15


def cardinal(n: int) -> str:
    """``123`` → "one hundred twenty-three" (no "and", as American speakers read it)."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return TENS[tens] + (f"-{ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for value, name in SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """``21`` → "twenty-first"."""
    head, space, last = cardinal(n).rpartition(" ")
    stem, hyphen, word = last.rpartition("-")
    if word in _IRREGULAR_ORDINALS:
        word = _IRREGULAR_ORDINALS[word]
    elif word.endswith("y"):
        word = word[:-1] + "ieth"
    else:
        word += "th"
    return head + space + stem + hyphen + word


def year(n: int) -> str:
    """``1999`` → "nineteen ninety-nine", ``2005`` → "two thousand five", ``2024`` → "twenty twenty-four"."""
    if n < 1000 or n > 9999 or 2000 <= n <= 2009:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {ONES[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


def plural(words: str) -> str:
    """Plural of a number word, for decades and fractions: "ninety" → "nineties", "third" → "thirds"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def digits(text: str) -> str:
    """Each digit of ``text`` as a word; other characters are dropped."""
    return " ".join(ONES[int(c)] for c in text if c.isdigit())


def number(text: str) -> str:
    """A written number as words: "1,234" → cardinal, "3.14" → "three point one four", "007" → digits."""
    negative = text.startswith("-")
    text = text.lstrip("-").replace(",", "")
    whole, point, fraction = text.partition(".")
    if not whole:
        words = "zero"
    elif len(whole) > MAX_CARDINAL_DIGITS or (len(whole) > 1 and whole.startswith("0")):
        words = digits(whole)
    else:
        words = cardinal(int(whole))
    if point and fraction:
        words += " point " + digits(fraction)
    return ("minus " + words) if negative else words
