"""English text normalisation: what is written, rewritten as the words a reader would say.

The rules run in a fixed order, most specific first — a date must be read before
its parts are taken for a range or a plain number, money before percent, and
phone numbers before anything can read their groups as quantities.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from digihuman.speech.frontend import en_numbers as num
from digihuman.speech.frontend.symbols import clean, squeeze

MONTHS = ("January February March April May June July August September October November "
          "December").split()
_MONTH_BY_PREFIX = {m[:3].lower(): m for m in MONTHS}
_MONTH = r"(?:" + "|".join(MONTHS + "Jan Feb Mar Apr Jun Jul Aug Sept Sep Oct Nov Dec".split()) + r")\b\.?"
NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"

# Title abbreviations, read in full only before a capitalised name, where their period is no sentence end.
_TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Prof": "Professor",
           "St": "Saint", "Mt": "Mount", "Capt": "Captain", "Gen": "General", "Sgt": "Sergeant",
           "Lt": "Lieutenant", "Col": "Colonel", "Gov": "Governor", "Rev": "Reverend", "Pres": "President"}
_ABBREVIATIONS = {"vs.": "versus", "vs": "versus", "etc.": "et cetera", "e.g.": "for example",
                  "i.e.": "that is", "approx.": "approximately", "Jr.": "Junior", "Sr.": "Senior",
                  "Inc.": "Incorporated", "Ltd.": "Limited", "Corp.": "Corporation", "Co.": "Company",
                  "Ave.": "Avenue", "Blvd.": "Boulevard", "Rd.": "Road", "Dept.": "Department"}
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "", ""),
               "₹": ("rupee", "rupees", "paisa", "paise"), "₩": ("won", "won", "", "")}
_SCALE_WORDS = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
                "b": "billion", "B": "billion", "bn": "billion", "thousand": "thousand",
                "million": "million", "billion": "billion", "trillion": "trillion"}
# unit → (singular, plural). "Glued only" units are too ambiguous with a space ("5 m" is fine, "5 s" is not).
_UNITS = {"km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour",
          "kilometers per hour"), "mph": ("mile per hour", "miles per hour"),
          "m/s": ("meter per second", "meters per second"), "km²": ("square kilometer", "square kilometers"),
          "m²": ("square meter", "square meters"), "km": ("kilometer", "kilometers"),
          "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
          "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"), "lbs": ("pound", "pounds"),
          "lb": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ft": ("foot", "feet"),
          "mi": ("mile", "miles"), "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"),
          "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
          "℃": ("degree Celsius", "degrees Celsius"), "°": ("degree", "degrees"),
          "TB": ("terabyte", "terabytes"), "GB": ("gigabyte", "gigabytes"), "MB": ("megabyte", "megabytes"),
          "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "GHz": ("gigahertz", "gigahertz"),
          "MHz": ("megahertz", "megahertz"), "kHz": ("kilohertz", "kilohertz"), "Hz": ("hertz", "hertz"),
          "kWh": ("kilowatt hour", "kilowatt hours"), "kW": ("kilowatt", "kilowatts"),
          "mAh": ("milliamp hour", "milliamp hours"), "ms": ("millisecond", "milliseconds"),
          "min": ("minute", "minutes"), "hrs": ("hour", "hours"), "hr": ("hour", "hours"),
          "yrs": ("year", "years"), "m": ("meter", "meters"), "g": ("gram", "grams"),
          "kb": ("kilobit", "kilobits"), "W": ("watt", "watts"), "V": ("volt", "volts"),
          "L": ("liter", "liters"), "l": ("liter", "liters"), "s": ("second", "seconds"),
          "h": ("hour", "hours"), "x": ("times", "times")}
_GLUED_ONLY = {"m", "g", "l", "L", "s", "h", "x", "W", "V", "mi", "min", "ms"}
_UNIT_PATTERN = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "%": " percent ", "°": " degrees ",
            "×": " times ", "÷": " divided by ", "，": ", ", "。": ". ", "！": "! ", "？": "? ", "；": "; ",
            "：": ": ", "、": ", ", "…": "... "}
_YEAR_CONTEXT = (r"in|since|by|from|until|till|to|of|year|before|after|around|circa|during|early|late|mid|"
                 r"between|and|than|In|Since|By|From|Until|Before|After|During|Between")


def _month(word: str) -> str:
    return _MONTH_BY_PREFIX[word.lower()[:3]]


def _day_month(day: int, month: int) -> str | None:
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f"{MONTHS[month - 1]} {num.ordinal(day)}"
    return None


def _iso_date(m: re.Match[str]) -> str:
    words = _day_month(int(m[3]), int(m[2]))
    return f"{words}, {num.year(int(m[1]))}" if words else m[0]


def _slash_date(m: re.Match[str]) -> str:
    y = int(m[3]) if len(m[3]) == 4 else 2000 + int(m[3])
    words = _day_month(int(m[2]), int(m[1]))  # month first, as in the US
    return f"{words}, {num.year(y)}" if words else m[0]


def _month_day(m: re.Match[str]) -> str:
    words = f"{_month(m[1])} {num.ordinal(int(m[2]))}"
    return words + (f", {num.year(int(m[3]))}" if m[3] else "")


def _day_of_month(m: re.Match[str]) -> str:
    words = f"the {num.ordinal(int(m[1]))} of {_month(m[2])}"
    return words + (f", {num.year(int(m[3]))}" if m[3] else "")


def _time(m: re.Match[str]) -> str:
    hour, minute, second, meridiem = int(m[1]), int(m[2]), m[3], m[4]
    if hour > 24 or minute > 59:
        return m[0]
    words = num.cardinal(hour)
    if minute == 0:
        words += "" if meridiem else " o'clock"
    elif minute < 10:
        words += f" oh {num.ONES[minute]}"
    else:
        words += f" {num.cardinal(minute)}"
    if second and int(second):
        words += f" and {num.cardinal(int(second))} seconds"
    return words + (_meridiem(meridiem) if meridiem else "")


def _meridiem(text: str) -> str:
    return " ay em" if text.lower().startswith("a") else " pee em"


def _money(m: re.Match[str]) -> str:
    one, many, cent, cents = _CURRENCIES[m[1]]
    amount, scale = m[2], m[3]
    if scale:
        return f"{num.number(amount)} {_SCALE_WORDS[scale.strip()]} {many}"
    whole, _, fraction = amount.replace(",", "").partition(".")
    units = int(whole or 0)
    unit_words = f"{num.cardinal(units)} {one if units == 1 else many}"
    if not fraction or int(fraction) == 0:
        return unit_words
    if len(fraction) > 2 or not cent:  # not a sum in cents: say it as a decimal
        return f"{num.number(amount)} {many}"
    hundredths = int(fraction.ljust(2, "0"))
    cent_words = f"{num.cardinal(hundredths)} {cent if hundredths == 1 else cents}"
    return cent_words if units == 0 else f"{unit_words} {cent_words}"


def _unit(m: re.Match[str]) -> str:
    amount, space, unit = m[1], m[2], m[3]
    if space and unit in _GLUED_ONLY:
        return m[0]
    one, many = _UNITS[unit]
    return f"{num.number(amount)} {one if amount in ('1', '-1') else many}"


def _phone(m: re.Match[str]) -> str:
    groups = re.findall(r"\d+", m[0])
    if sum(len(g) for g in groups) < 7:
        return m[0]
    return ("plus " if m[0].lstrip().startswith("+") else "") + ", ".join(num.digits(g) for g in groups)


def _fraction(m: re.Match[str]) -> str:
    top, bottom = int(m[1]), int(m[2])
    if bottom == 0 or bottom > 16 or (top, bottom) == (24, 7):
        tail = "seven" if (top, bottom) == (24, 7) else "over " + num.cardinal(bottom)
        return f"{num.cardinal(top)} {tail}"
    name = {2: "half", 4: "quarter"}.get(bottom, num.ordinal(bottom))
    if top != 1:
        name = "halves" if bottom == 2 else num.plural(name)
    return f"{num.cardinal(top)} {name}"


def _decade(m: re.Match[str]) -> str:
    if m[1]:
        return num.plural(num.cardinal(int(m[2])))
    return num.plural(num.year(int(m[3])))


def _title(m: re.Match[str]) -> str:
    return _TITLES[m[1]] + " "


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]
_RULES: list[Rule] = [
    (re.compile(r"\b(" + "|".join(_TITLES) + r")\.\s+(?=[A-Z])"), _title),
    (re.compile(r"\b(Mr|Mrs|Ms|Dr)\s+(?=[A-Z])"), _title),
    (re.compile(r"\b([A-Z][a-z]+) St\.(?!\w)"), r"\1 Street"),
    (re.compile(r"(?<!\w)(" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")(?!\w)"),
     lambda m: _ABBREVIATIONS[m[1]]),
    (re.compile(r"\b[Nn]o\.\s?(?=\d)"), "number "),
    (re.compile(r"(?<![\d-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])"), _iso_date),
    (re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])"), _slash_date),
    (re.compile(r"(?<![\w-])(\+?\d{1,3}[ -])?\(?\d{3}\)?[ -]\d{3}[ -]\d{4}(?![\w-])"), _phone),
    (re.compile(r"(?<![\w.,+-])\+?\d{2,4}(?:[ -]\d{2,4}){2,}(?![\w.,-])"), _phone),
    (re.compile(r"(?<![\w.,-])\d{3}-\d{4}(?![\w.,-])"), _phone),
    (re.compile(r"(?<![\w.,])(?:0\d{6,}|\d{9,})(?![\w.,])"), lambda m: num.digits(m[0])),
    (re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"), _month_day),
    (re.compile(rf"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})(?:,?\s+(\d{{4}})\b)?"),
     _day_of_month),
    (re.compile(rf"\b({_MONTH})\s+(\d{{4}})\b"), lambda m: f"{_month(m[1])} {num.year(int(m[2]))}"),
    (re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([aApP]\.?[mM]\.?)(?!\w))?"), _time),
    (re.compile(r"\b(\d{1,2})\s?([aApP]\.?[mM]\.?)(?!\w)"),
     lambda m: num.cardinal(int(m[1])) + _meridiem(m[2])),
    (re.compile(rf"([$£€¥₹₩])\s?({NUMBER})(\s?(?:thousand|million|billion|trillion|bn|mn|[kKmMbB])\b)?"),
     _money),
    (re.compile(rf"(-?{NUMBER})\s?%"), lambda m: f"{num.number(m[1])} percent"),
    (re.compile(r"(?:(')\b([1-9]0)|(?<![\w.])(1[0-9]\d0|20\d0))'?s\b"), _decade),
    (re.compile(rf"(?<![\w.])(-?{NUMBER})( ?)({_UNIT_PATTERN})(?![\w²/])"), _unit),
    (re.compile(r"(?<![\w.])(\d+)(?:st|nd|rd|th)\b"), lambda m: num.ordinal(int(m[1]))),
    (re.compile(rf"\b({_YEAR_CONTEXT})\s+(1[1-9]\d\d|20\d\d)\b(?![.,]\d)"),
     lambda m: f"{m[1]} {num.year(int(m[2]))}"),
    (re.compile(r"(?<![\w.,/])(\d+)/(\d+)(?![\w/])"), _fraction),
    (re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)\s?(?:-|–|~)\s?(\d+(?:\.\d+)?)(?![\w.,-])"),
     lambda m: f"{num.number(m[1])} to {num.number(m[2])}"),
    (re.compile(r"\d+(?:\.\d+){2,}"), lambda m: " point ".join(num.number(p) for p in m[0].split("."))),
    (re.compile(r"#\s?(?=\d)"), "number "),
    (re.compile(r"(?<=\d)\s?[x×]\s?(?=\d)"), " times "),
    (re.compile(r"(?<![\w.])\.(\d+)"), lambda m: "point " + num.digits(m[1])),
    (re.compile(r"(?<![\w.)-])-(?=\d)"), "minus "),
    # Spaces keep a number glued to letters ("mp3") a word of its own.
    (re.compile(NUMBER), lambda m: f" {num.number(m[0])} "),
]


def normalize(text: str) -> str:
    """English ``text`` with numbers, money, dates, times, units and symbols written out as words."""
    text = clean(text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = re.sub(r"\s[-–—]+\s|—", ", ", text)
    # Whatever is left that is neither a word nor punctuation a reader pauses at.
    text = re.sub(r"[^\w\s.,!?;:'\-]|_", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return squeeze(text)
