"""Cleaning a model's rewrite down to the script itself, whole or while it streams.

Models wrap answers in things a script must not carry: reasoning traces (``<think>…</think>``),
preambles ("Sure, here is the rewritten script:", "好的，以下是改写后的文案："), labels ("Rewrite:"),
surrounding quotes, and closing notes ("Note: …", "（字数：120）"). ``clean`` removes them from a whole
answer; ``StreamCleaner`` does the same to an answer arriving in pieces, holding back only what is
still undecided (a tag cut in two, a first line that may turn out to be a preamble, a last quote).
"""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
QUOTES_OPEN = "\"'“‘「『《"
QUOTES_CLOSE = "\"'”’」』》"
# What only announces the answer: a courtesy word standing alone ("Sure!", "好的！"), or a first line
# that starts like an announcement and ends in a colon ("Here is the rewritten script:", "以下是改写：").
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok|absolutely|alright|好的|当然(?:可以)?|没问题)\s*[!！.。]\s*"
    r"|(?:sure|certainly|of course|okay|ok|absolutely|alright|great|here|below|this is|i've|i have|"
    r"好的|当然|没问题|可以|以下|下面|这是|为你|为您)[^\n]{0,100}?[:：]\s*"
    r"|(?:here(?:'s| is| are)|below is)[^\n]{0,80}\n\s*)",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:rewrite|rewritten(?: script| version| text)?|new script|script|output|answer|"
    r"改写(?:后)?(?:的)?(?:文案|版本|稿)?|口播(?:文案|稿)|文案|正文|输出)(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)
_NOTE = re.compile(r"\n+\s*[(（]?(?:note|notes|word count|character count|注|备注|说明|字数)\s*[:：）)][\s\S]*$",
                   re.IGNORECASE)
_NOTE_WORDS = ("note", "word count", "character count", "注", "备注", "说明", "字数")
_PREAMBLE_STARTS = ("sure", "certainly", "of course", "okay", "ok", "absolutely", "great", "alright", "here",
                    "below", "this is", "好的", "当然", "没问题", "可以", "以下", "下面", "这是", "rewrite",
                    "rewritten", "new script", "script", "output", "answer", "改写", "口播", "文案", "正文", "输出",
                    "**")
_UNDECIDED_CHARS = 80  # a first line this long with no newline or colon yet may still be a preamble


def strip_reasoning(text: str, final: bool = True) -> str:
    """``text`` without ``<think>…</think>``; an unclosed trace is dropped (whole) or held (streaming)."""
    if CLOSE in text and (OPEN not in text or text.index(CLOSE) < text.index(OPEN)):
        text = text.split(CLOSE, 1)[1]  # the opening tag was in the prompt (a prefilled template)
    while OPEN in text:
        head, _, rest = text.partition(OPEN)
        if CLOSE not in rest:
            return head
        text = head + rest.split(CLOSE, 1)[1]
    if not final:
        text = _without_partial_tag(text)
    return text


def clean(text: str, final: bool = True) -> str:
    """The script inside a model's answer (``final=False``: the part of a growing answer that is settled)."""
    text = strip_reasoning(text, final).lstrip()
    if not final and _undecided(text):
        return ""
    for _ in range(2):  # "Sure! Here is the rewrite:\nRewrite: …"
        text = _PREAMBLE.sub("", text, count=1).lstrip()
        text = _LABEL.sub("", text, count=1).lstrip()
    text = _NOTE.sub("", text)
    if not final:
        text = _without_partial_note(text)
    text = text.lstrip(QUOTES_OPEN).lstrip()
    if final:
        return text.rstrip().rstrip(QUOTES_CLOSE).strip()
    settled = text.rstrip()
    return settled[:-1] if settled and settled[-1] in QUOTES_CLOSE else settled


class StreamCleaner:
    """Cleans an answer arriving in pieces: ``feed`` returns the newly settled text, ``finish`` the rest.

    ``reasoning``: the model thinks before answering and its opening ``<think>`` may be in the prompt
    (a prefilled template), so nothing is sent before ``</think>`` has arrived or the answer has ended.
    """

    def __init__(self, reasoning: bool = False) -> None:
        self.raw = ""
        self.sent = ""
        self.reasoning = reasoning

    def feed(self, piece: str) -> str:
        self.raw += piece
        if self.reasoning and CLOSE not in self.raw:
            return ""
        return self._advance(clean(self.raw, final=False))

    def finish(self) -> str:
        return self._advance(clean(self.raw, final=True))

    def _advance(self, settled: str) -> str:
        # Settled text only ever grows; where a final cut (a closing note) shortens it, nothing is sent
        # that would contradict what already went out.
        if not settled.startswith(self.sent):
            return ""
        new, self.sent = settled[len(self.sent):], settled
        return new


def _without_partial_tag(text: str) -> str:
    for tag in (OPEN, CLOSE):
        for n in range(len(tag) - 1, 0, -1):
            if text.endswith(tag[:n]):
                return text[:-n]
    return text


def _without_partial_note(text: str) -> str:
    """Hold back a last line that may still become a closing note ("Not…", "（字")."""
    head, newline, last = text.rpartition("\n")
    if not newline:
        return text
    start = last.strip().lstrip("(（").lower()
    if any(word.startswith(start) or start.startswith(word) for word in _NOTE_WORDS):
        return head
    return text


def _undecided(text: str) -> bool:
    """Whether the start of a streaming answer may still turn out to be a preamble or label."""
    if not text:
        return True
    first = text.split("\n", 1)[0]
    if "\n" in text or len(first) >= _UNDECIDED_CHARS:
        return False
    lowered = first.lower().lstrip(QUOTES_OPEN + " ")
    if not lowered:
        return True
    return any(lowered.startswith(p) or p.startswith(lowered) for p in _PREAMBLE_STARTS) and \
        not re.search(r"[:：][\s*]*[^\s*]", first)
