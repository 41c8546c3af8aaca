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
BASE_TRIES = 3  # rewrites sampled from a base model, the best kept (see RewritePresets.complete)
GOOD_ENOUGH = 0.3  # flaws() at or below this ends the sampling


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
                ("这台咖啡机内置研磨器，从磨豆到出杯只要45秒，水箱容量1.8升。它支持12档研磨粗细调节，清洗时只需按一下除垢键。",
                 "早上赶时间的看过来！豆子倒进去，45秒一杯现磨咖啡就好了。1.8升的大水箱，12档粗细随便调，清洗也简单，除垢一键搞定。"),
                ("秋天树叶变黄，是因为气温降低后叶绿素被分解，原本被遮住的叶黄素和胡萝卜素显露出来。有些树叶变红，则是因为叶子里生成了花青素。",
                 "你知道秋天叶子为啥会变黄吗？天一冷，叶绿素就被分解了，藏在里面的叶黄素和胡萝卜素就露出来了。那红叶呢？是叶子里新长出了花青素。"),
            ),
            EN: (
                ("This coffee machine grinds the beans itself and pours a cup in 45 seconds. It holds 1.8 liters of water, offers 12 grind settings, and descales at the press of one button.",
                 "In a rush every morning? Drop in your beans and you get a fresh cup in 45 seconds. There is a 1.8-liter tank, 12 grind levels, and cleaning takes one button."),
                ("Leaves turn yellow in autumn because chlorophyll breaks down as temperatures drop, revealing pigments that were there all along. Some leaves turn red because they produce new pigments called anthocyanins.",
                 "Ever wondered why leaves go yellow in the fall? When it gets cold, the green chlorophyll breaks down and the yellow hiding underneath shows up. And red leaves? They make a brand-new pigment called anthocyanin."),
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
                ("这台咖啡机内置研磨器，从磨豆到出杯只要45秒，水箱容量1.8升。它支持12档研磨粗细调节，清洗时只需按一下除垢键。",
                 "打工人早八救星☕ 自带磨豆，45秒就能喝上现磨！1.8L大水箱不用天天加水，12档研磨随心调，一键除垢懒人狂喜～ #咖啡机 #好物分享"),
                ("秋天树叶变黄，是因为气温降低后叶绿素被分解，原本被遮住的叶黄素和胡萝卜素显露出来。有些树叶变红，则是因为叶子里生成了花青素。",
                 "秋天的叶子为什么会变黄🍂 降温后叶绿素被分解，藏着的叶黄素和胡萝卜素就露脸啦！红叶则是新生成了花青素❤️ 涨知识了～ #自然科普"),
            ),
            EN: (
                ("This coffee machine grinds the beans itself and pours a cup in 45 seconds. It holds 1.8 liters of water, offers 12 grind settings, and descales at the press of one button.",
                 "My mornings are saved ☕ This machine grinds the beans and pours a cup in 45 seconds! 1.8L tank, 12 grind settings, one-button descaling 🙌 #coffeelover #kitchenfinds"),
                ("Leaves turn yellow in autumn because chlorophyll breaks down as temperatures drop, revealing pigments that were there all along. Some leaves turn red because they produce new pigments called anthocyanins.",
                 "Why do leaves turn yellow? 🍂 When it gets cold, chlorophyll breaks down and the yellow pigments that were hiding show up! Red leaves make a new pigment, anthocyanin ❤️ #autumnvibes #sciencefacts"),
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
                ("家人们！这咖啡机太省事了，自己磨豆，45秒就出一杯，水箱1.8升，12档研磨随便调，除垢按一下就行！",
                 "该咖啡机内置研磨器，从研磨到出杯仅需45秒，水箱容量为1.8升，提供12档研磨粗细调节，并支持一键除垢。"),
                ("秋天叶子变黄是因为天冷了叶绿素没了，里面黄色的东西就露出来了，红叶是因为长了花青素。",
                 "秋季树叶变黄，是由于气温下降导致叶绿素分解，使原有的叶黄素和胡萝卜素得以显现；部分树叶呈红色，则是因为叶片中合成了花青素。"),
            ),
            EN: (
                ("Guys, this coffee machine is awesome! It grinds the beans, gives you a cup in 45 seconds, has a huge 1.8-liter tank and 12 grind settings, and you descale it with one button!",
                 "The coffee machine features a built-in grinder and prepares a cup in 45 seconds. It has a 1.8-liter water tank, 12 grind settings, and a one-button descaling function."),
                ("So leaves go yellow in the fall because the green stuff breaks down when it gets cold, and the yellow was there all along. Red ones make a new pigment.",
                 "In autumn, leaves turn yellow as falling temperatures break down chlorophyll and reveal pigments already present in the leaf. Red foliage results from the production of anthocyanins."),
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
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
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
        if not self.backend.continues_text(self.model):
            result = self.backend.complete(self._chat(job, request))
            return self._checked(fit(clean(result.text), job), result.prompt_tokens, result.completion_tokens)
        # A small base model often copies the script, drops half of it or loses its numbers: sample a few
        # rewrites (hotter each time) and keep the one that looks best, stopping at the first good one.
        best: tuple[float, str] | None = None
        prompt_tokens = completion_tokens = 0
        for attempt in range(BASE_TRIES):
            result = self.backend.complete_prompt(self._prompt(job, request, attempt))
            prompt_tokens, completion_tokens = prompt_tokens + result.prompt_tokens, completion_tokens + result.completion_tokens
            text = fit(clean(result.text), job)
            score = flaws(job, text)
            if best is None or score < best[0]:
                best = (score, text)
            if score <= GOOD_ENOUGH:
                break
        assert best is not None
        return self._checked(best[1], prompt_tokens, completion_tokens)

    def _checked(self, text: str, prompt_tokens: int, completion_tokens: int) -> ChatResult:
        if not text:
            raise BackendFailed(f"the model {self.model!r} gave no usable rewrite; try again or use a larger model.")
        # "stop": the script is whole, cut at a sentence end, even where the model itself ran on to its limit.
        return ChatResult(text, prompt_tokens, completion_tokens, "stop")

    def stream(self, request: ChatRequest) -> Iterator[str]:
        job = job_of(request)
        if self.backend.continues_text(self.model):
            pieces = self.backend.stream_prompt(self._prompt(job, request))
        else:
            pieces = self.backend.stream(self._chat(job, request))
        reasons = getattr(self.backend, "reasons", None)
        return _fitted_stream(pieces, job, bool(reasons and reasons(self.model)))

    def _prompt(self, job: Job, request: ChatRequest, attempt: int = 0) -> PromptRequest:
        """A few-shot prompt a base model continues with the rewrite, ending at the next example."""
        original, rewrite = _LABELS[job.lang]
        blocks = [_HEADERS[job.lang][job.style.model]]
        for source, target in job.style.examples[job.lang]:
            blocks.append(f"{original}{source}\n{rewrite}{target}")
        blocks.append(f"{original}{_one_line(job.script)}\n{rewrite.rstrip()}")
        stops = ("\n\n", "\n" + original.strip(), original.strip(), "\n" + rewrite.strip())
        temperature = _temperature(request) if request.temperature is not None or attempt == 0 else 0.7 + 0.15 * attempt
        return PromptRequest(self.model, "\n\n".join(blocks), stops, temperature, request.top_p,
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


def flaws(job: Job, text: str) -> float:
    """How far a rewrite is from what is wanted, 0 best: length off, wording copied, numbers or topic lost.

    The topic is judged by the original's key terms (Chinese character pairs, English words of four
    letters or more) found again: a paraphrase keeps many, a small model that drifted off keeps few.
    """
    if not text:
        return float("inf")
    off = abs(length(text, job.lang) / job.target - 1)
    copied = max(0.0, surviving_grams(job.script, text) - 0.4)
    numbers = set(_NUMBER.findall(job.script))
    lost = len(numbers - set(_NUMBER.findall(text))) / len(numbers) if numbers else 0.0
    terms = _terms(job.script, job.lang)
    kept = len(terms & _terms(text, job.lang)) / len(terms) if terms else 1.0
    return off + 2 * copied + lost + 2 * max(0.0, 0.35 - kept)


def _terms(text: str, lang: str) -> set[str]:
    if lang == ZH:
        runs = _CJK_RUN.findall(text)
        return {run[i:i + 2] for run in runs for i in range(len(run) - 1)}
    return {w.lower() for w in _WORD.findall(text) if len(w) >= 4}


def surviving_grams(original: str, rewrite: str) -> float:
    """Share of the original's character 4-grams found in the rewrite (1: copied, 0: all new words)."""
    source, target = _grams(original), _grams(rewrite)
    return len(source & target) / len(source) if source else 0.0


def _grams(text: str) -> set[str]:
    flat = re.sub(r"\s+", " ", text.lower()).strip()
    return {flat[i:i + 4] for i in range(len(flat) - 3)}


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
