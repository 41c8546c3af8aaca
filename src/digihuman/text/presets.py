"""Rewrite presets offered as model names: ``rewrite-口播``, ``rewrite-xiaohongshu``, ``rewrite-formal``.

A preset turns "rewrite this script" into what the model at hand understands: a base model (the
bundled Gemma 3 270M) gets a completion-style few-shot prompt ("原文：…\\n改写：…"), an instruction or
reasoning model gets a system prompt and the same examples as chat turns. The script's language
(Chinese or English) picks the examples and the answer's language. The answer is cleaned
(text/cleanup.py) and held to roughly the original's length, or the length asked for ("200字",
"about 80 words") in a system message or a line before the script.

Callers (the API, the remix pipeline) send ``ChatRequest(model="rewrite-口播", messages=(ChatMessage("user",
script),))`` and get the cleaned script as ``ChatResult.text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from digihuman.errors import BackendFailed, InvalidInput
from digihuman.text.base import ChatMessage, ChatRequest, ChatResult, PromptRequest, TextModel
from digihuman.text.cleanup import StreamCleaner, clean

ZH, EN = "zh", "en"
LENGTH_SLACK = 1.3  # an answer is cut (at a sentence end) past 1.3x the wanted length


@dataclass(frozen=True)
class Style:
    """One preset: what the rewrite should sound like, with examples per language."""

    model: str
    instruction: dict[str, str]  # language -> system prompt
    examples: dict[str, tuple[tuple[str, str], ...]]  # language -> (original, rewrite) pairs


STYLES = {s.model: s for s in (
    Style(
        model="rewrite-口播",
        instruction={
            ZH: "你是短视频口播文案改写助手。把用户给的文案改写成适合真人对着镜头说的口播稿：口语化、句子短、"
                "开头一句抓人，意思和信息（数字、名称、卖点）全部保留，换一种说法，不要照抄原句，字数和原文相近。",
            EN: "You rewrite scripts for short spoken videos. Turn the user's script into something a presenter "
                "says to camera: conversational, short sentences, a hook first. Keep every fact, number and name, "
                "say it in new words instead of copying sentences, and keep about the same length.",
        },
        examples={
            ZH: (
                ("这款保温杯采用316不锈钢内胆，保温时间长达12小时，重量只有200克，适合上班通勤携带。",
                 "上班族看过来！这个杯子才200克，揣包里没感觉，316不锈钢内胆，热水放12个小时还是烫的。"),
                ("研究表明，每天步行30分钟可以降低心血管疾病的风险，并有助于改善睡眠质量。",
                 "每天走路半小时，心血管更健康，晚上也睡得更香，这可是研究证明过的。"),
            ),
            EN: (
                ("Our new blender has a 1200-watt motor and six speed settings, and it cleans itself in 60 seconds.",
                 "Check this out: 1200 watts of power, six speeds, and it washes itself in just one minute."),
                ("Studies show that walking for 30 minutes a day lowers the risk of heart disease and improves sleep.",
                 "Walk thirty minutes a day and your heart gets healthier and you sleep better. Science says so."),
            ),
        },
    ),
    Style(
        model="rewrite-xiaohongshu",
        instruction={
            ZH: "你是小红书文案改写助手。把用户给的文案改写成小红书笔记风格：第一人称分享、亲切活泼、适量emoji、"
                "分短段，结尾可加两三个#话题。事实和数字全部保留，换一种说法，字数和原文相近。",
            EN: "You rewrite text as a Xiaohongshu (RED) post: first-person, warm and lively, a few emoji, short "
                "lines, two or three #hashtags at the end. Keep every fact and number, use new wording, and keep "
                "about the same length.",
        },
        examples={
            ZH: (
                ("这款保温杯采用316不锈钢内胆，保温时间长达12小时，重量只有200克，适合上班通勤携带。",
                 "通勤党的续命神器☕ 才200克轻到没感觉，316不锈钢内胆，早上装的热水下班还烫嘴！#好物分享 #通勤"),
                ("研究表明，每天步行30分钟可以降低心血管疾病的风险，并有助于改善睡眠质量。",
                 "姐妹们坚持每天走路30分钟🚶‍♀️ 心血管风险降低，睡眠也变好了，研究都这么说！#健康生活"),
            ),
            EN: (
                ("Our new blender has a 1200-watt motor and six speed settings, and it cleans itself in 60 seconds.",
                 "Obsessed with my new blender 😍 1200W, six speeds, and it cleans itself in 60 seconds! "
                 "#kitchenfinds #smoothies"),
                ("Studies show that walking for 30 minutes a day lowers the risk of heart disease and improves sleep.",
                 "My daily habit 🚶‍♀️ 30 minutes of walking = a healthier heart + better sleep, backed by "
                 "research ✨ #healthyhabits"),
            ),
        },
    ),
    Style(
        model="rewrite-formal",
        instruction={
            ZH: "你是正式文稿改写助手。把用户给的文案改写成正式、客观、书面的表达，适合新闻稿或官方介绍：不用口语和"
                "感叹，事实、数字和名称全部保留，换一种说法，字数和原文相近。",
            EN: "You rewrite text in a formal, objective register suitable for a press release or an official "
                "description: no slang or exclamations, every fact, number and name kept, new wording, and about "
                "the same length.",
        },
        examples={
            ZH: (
                ("家人们！这杯子绝了，316不锈钢的，热水放12小时还烫，才200克，通勤带着超方便！",
                 "该保温杯采用316不锈钢内胆，保温时长可达12小时，重量仅200克，便于通勤携带。"),
                ("每天走半小时路，心脏更好，觉也睡得香，研究都证明了。",
                 "研究表明，每日步行30分钟有助于降低心血管疾病风险，并可改善睡眠质量。"),
            ),
            EN: (
                ("Guys, this blender is insane! 1200 watts, six speeds, and it cleans itself in a minute!",
                 "The blender features a 1200-watt motor and six speed settings, and completes a self-cleaning "
                 "cycle in 60 seconds."),
                ("Walk half an hour a day and your heart and sleep get way better, science says so.",
                 "Research indicates that walking for 30 minutes daily reduces the risk of cardiovascular disease "
                 "and improves sleep quality."),
            ),
        },
    ),
)}

# completion-style labels for base models
_LABELS = {ZH: ("原文：", "改写："), EN: ("Original: ", "Rewrite: ")}
_HEADERS = {
    ZH: {"rewrite-口播": "下面把文案改写成短视频口播稿，口语化，意思不变，换一种说法，长度相近。",
         "rewrite-xiaohongshu": "下面把文案改写成小红书笔记风格，意思不变，换一种说法，长度相近。",
         "rewrite-formal": "下面把文案改写成正式的书面表达，意思不变，换一种说法，长度相近。"},
    EN: {"rewrite-口播": "Each script below is rewritten for a spoken short video: same meaning, new words, "
                         "similar length.",
         "rewrite-xiaohongshu": "Each text below is rewritten as a Xiaohongshu post: same meaning, new words, "
                                "similar length.",
         "rewrite-formal": "Each text below is rewritten in a formal register: same meaning, new words, "
                           "similar length."},
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9']+")
_ASKED_ZH = re.compile(r"(\d{1,4})\s*(?:个)?(?:字|汉字)")
_ASKED_EN = re.compile(r"(\d{1,4})\s*(words?|characters?|chars?)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[。！？!?…]|[.](?=\s|$)")


def language(text: str) -> str:
    """``zh`` when a good share of the letters are Chinese characters, else ``en``."""
    cjk = len(_CJK.findall(text))
    latin = sum(len(w) for w in _WORD.findall(text))
    return ZH if cjk and cjk * 3 >= latin else EN


def length(text: str, lang: str) -> int:
    """Characters for Chinese (CJK characters, ignoring punctuation), words for English."""
    return len(_CJK.findall(text)) + len(_WORD.findall(text)) // 2 if lang == ZH else len(_WORD.findall(text))


@dataclass(frozen=True)
class Job:
    """One rewrite, worked out from a request."""

    style: Style
    script: str
    lang: str
    target: int  # wanted length (characters for zh, words for en)
    extra: str  # the caller's further instructions, passed on to chat models


class RewritePresets:
    """A ChatModel offering the rewrite presets, answering through ``backend``'s model ``model``."""

    def __init__(self, backend: TextModel, model: str) -> None:
        self.backend, self.model = backend, model

    def models(self) -> list[str]:
        return list(STYLES)

    def complete(self, request: ChatRequest) -> ChatResult:
        job = job_of(request)
        if self.backend.continues_text(self.model):
            result = self.backend.complete_prompt(self._prompt(job, request))
        else:
            result = self.backend.complete(self._chat(job, request))
        text = fit(clean(result.text), job)
        if not text:
            raise BackendFailed(f"the model {self.model!r} gave no usable rewrite; try again or use a larger model.")
        return ChatResult(text, result.prompt_tokens, result.completion_tokens, result.finish_reason)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        job = job_of(request)
        if self.backend.continues_text(self.model):
            pieces = self.backend.stream_prompt(self._prompt(job, request))
        else:
            pieces = self.backend.stream(self._chat(job, request))
        reasons = getattr(self.backend, "reasons", None)
        return _fitted_stream(pieces, job, bool(reasons and reasons(self.model)))

    def _prompt(self, job: Job, request: ChatRequest) -> PromptRequest:
        """A few-shot prompt a base model continues with the rewrite, ending at the next example."""
        original, rewrite = _LABELS[job.lang]
        blocks = [_HEADERS[job.lang][job.style.model]]
        for source, target in job.style.examples[job.lang]:
            blocks.append(f"{original}{source}\n{rewrite}{target}")
        blocks.append(f"{original}{_one_line(job.script)}\n{rewrite.rstrip()}")
        stops = ("\n\n", "\n" + original.strip(), original.strip(), "\n" + rewrite.strip())
        return PromptRequest(self.model, "\n\n".join(blocks), stops, _temperature(request), request.top_p,
                             request.max_tokens or _token_budget(job))

    def _chat(self, job: Job, request: ChatRequest) -> ChatRequest:
        system = job.style.instruction[job.lang] + (
            f"\n只输出改写后的文案本身，不要任何开场白、引号、解释或备注。用中文，约{job.target}字。" if job.lang == ZH
            else f"\nAnswer with the rewritten script only: no preamble, no quotes, no explanation, no notes. "
                 f"Write in English, about {job.target} words.")
        if job.extra:
            system += "\n" + job.extra
        turns = [ChatMessage("system", system)]
        for source, target in job.style.examples[job.lang]:
            turns += [ChatMessage("user", source), ChatMessage("assistant", target)]
        turns.append(ChatMessage("user", job.script))
        return ChatRequest(self.model, tuple(turns), _temperature(request), request.top_p,
                           request.max_tokens or _token_budget(job) + 64)


def job_of(request: ChatRequest) -> Job:
    """The script (the last user message) and what the caller asked for around it."""
    if request.model not in STYLES:
        raise InvalidInput(f"unknown rewrite preset {request.model!r}; choose one of {', '.join(STYLES)}.")
    users = [m for m in request.messages if m.role == "user" and m.content.strip()]
    if not users:
        raise InvalidInput("messages hold no script to rewrite: put the script in a user message.")
    script = users[-1].content.strip()
    notes = [m.content.strip() for m in request.messages if m.role == "system" and m.content.strip()]
    notes += [m.content.strip() for m in users[:-1]]
    # A short first line that asks for a length ("改写成200字", "in about 80 words") is an instruction.
    first, _, rest = script.partition("\n")
    if rest.strip() and len(first) <= 40 and (_ASKED_ZH.search(first) or _ASKED_EN.search(first)):
        notes.append(first.strip())
        script = rest.strip()
    lang = language(script)
    extra = "\n".join(notes)
    return Job(STYLES[request.model], script, lang, _asked_length(extra, lang) or max(1, length(script, lang)), extra)


def fit(text: str, job: Job) -> str:
    """``text`` cut at a sentence end once it runs past ``LENGTH_SLACK`` times the wanted length."""
    limit = job.target * LENGTH_SLACK
    if length(text, job.lang) <= limit:
        return text
    cut = ""
    for match in _SENTENCE_END.finditer(text):
        if length(text[:match.end()], job.lang) > limit:
            break
        cut = text[:match.end()]
    return cut if cut and length(cut, job.lang) >= job.target * 0.6 else _cut_words(text, job, limit)


def _fitted_stream(pieces: Iterator[str], job: Job, reasoning: bool) -> Iterator[str]:
    """Cleaned pieces, ending (and closing the backend's stream) once the wanted length is passed.

    Sends what ``fit`` would keep of the whole answer: once the text is long enough for a cut to land
    in it, only whole sentences go out, so a cut never has to take back what was sent.
    """
    cleaner, sent, pending = StreamCleaner(reasoning), "", ""
    floor = job.target * 0.6
    try:
        for piece in pieces:
            pending += cleaner.feed(piece)
            whole = sent + pending
            if length(whole, job.lang) > job.target * LENGTH_SLACK:
                cut = fit(whole, job)
                if cut.startswith(sent) and len(cut) > len(sent):
                    yield cut[len(sent):]
                return
            ready = whole
            if length(whole, job.lang) >= floor:
                ends = [m.end() for m in _SENTENCE_END.finditer(whole)]
                ready = whole[:ends[-1]] if ends else sent
            if len(ready) > len(sent):
                yield ready[len(sent):]
                sent, pending = ready, whole[len(ready):]
        whole = sent + pending + cleaner.finish()
        cut = fit(whole.rstrip(), job)
        if cut.startswith(sent) and len(cut) > len(sent):
            yield cut[len(sent):]
    finally:
        close = getattr(pieces, "close", None)
        if close:
            close()


def _cut_words(text: str, job: Job, limit: float) -> str:
    """No sentence end fits: cut after the last whole word (or character, for Chinese) within the limit."""
    out = ""
    for match in (_CJK if job.lang == ZH else _WORD).finditer(text):
        if length(text[:match.end()], job.lang) > limit:
            break
        out = text[:match.end()]
    return out or text


def _asked_length(extra: str, lang: str) -> int | None:
    match = _ASKED_ZH.search(extra) or _ASKED_EN.search(extra)
    if not match:
        return None
    n = int(match.group(1))
    if lang == EN and match.re is _ASKED_EN and match.group(2).lower().startswith("char"):
        n = max(1, n // 6)  # about six characters per English word, with its space
    return max(1, n)


def _token_budget(job: Job) -> int:
    # Chinese: about one token per character; English: about 1.4 tokens per word. Room for the slack.
    per_unit = 1.2 if job.lang == ZH else 1.6
    return int(job.target * LENGTH_SLACK * per_unit) + 24


def _temperature(request: ChatRequest) -> float:
    return 0.7 if request.temperature is None else request.temperature


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()
