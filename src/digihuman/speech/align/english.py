"""English phone timing: pocketsphinx forced alignment of known words, chunk by chunk.

Forced alignment of a whole minute in one pass is slow and fails outright when one word is off,
so the audio is cut at word boundaries into chunks of 5-12 s (cutting in the widest pause
available) and each chunk is aligned on its own: decode against the chunk's words, switch on
sub-word alignment (``set_alignment()``), decode again, read the phones (``get_alignment()``).
A chunk that does not align keeps the recogniser's word times, each word's dictionary phones
spread over it (vowels given twice a consonant's time). A known text without word times (no
recogniser was asked) is first aligned in one pass over the whole audio (``align_text``).
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from digihuman.speech.align.features import RATE
from digihuman.speech.align.lexicon import in_dictionary, pronounce, with_stress, words_of
from digihuman.speech.align.visemes import VOWELS
from digihuman.timeline import Phone, Word

_FRAME = 0.01  # pocketsphinx frames are 10 ms
_EDGE_PAD = 0.2  # s of digital silence put around each chunk
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkOptions:
    """Where long audio is cut for alignment."""

    min_s: float = 5.0  # chunks shorter than this are only made at the end
    max_s: float = 12.0  # never longer, unless one word alone is
    pad_s: float = 0.15  # audio taken beyond the outer words, for recogniser times that cut early
    whole_s: float = 120.0  # a known text without word times is first aligned in one pass up to this long


@dataclass(frozen=True)
class Chunk:
    start: float
    end: float
    words: tuple[Word, ...]


def plan_chunks(words: Sequence[Word], duration: float, options: ChunkOptions = ChunkOptions()) -> list[Chunk]:
    """Group timed words into chunks of ``min_s``-``max_s`` seconds, cut in the widest gap."""
    chunks: list[Chunk] = []
    i, n = 0, len(words)
    while i < n:
        start = words[i].start
        if words[-1].end - start <= options.max_s:
            last = n - 1
        else:
            fits = [k for k in range(i, n) if words[k].end - start <= options.max_s] or [i]
            long_enough = [k for k in fits if words[k].end - start >= options.min_s and k + 1 < n] or [fits[-1]]
            last = max(long_enough, key=lambda k: (words[k + 1].start - words[k].end) if k + 1 < n else 0.0)
        chunks.append(Chunk(start, words[last].end, tuple(words[i: last + 1])))
        i = last + 1
    # Audio spans: meet in the middle of each gap, and reach a little past the outer words.
    spans = []
    for j, c in enumerate(chunks):
        lo = 0.0 if j == 0 else (chunks[j - 1].end + c.start) / 2
        hi = duration if j == len(chunks) - 1 else (c.end + chunks[j + 1].start) / 2
        lo = max(0.0, min(lo, c.start - options.pad_s)) if j == 0 else lo
        hi = min(duration, max(hi, c.end + options.pad_s)) if j == len(chunks) - 1 else hi
        spans.append(Chunk(round(lo, 3), round(hi, 3), c.words))
    return spans


def retime_text(text_words: Sequence[str], timed: Sequence[Word], duration: float,
                normalize: Callable[[str], str] = lambda s: " ".join(words_of(s))) -> list[Word]:
    """Give the words of a known text the times of the recogniser's matching words.

    Unmatched words share the time between their matched neighbours, so a recogniser that
    misheard a word still places the text well enough to cut chunks. ``normalize`` brings a
    recognised word to the form of ``text_words``.
    """
    heard = [normalize(w.text) for w in timed]
    matcher = difflib.SequenceMatcher(None, list(text_words), heard, autojunk=False)
    times: list[tuple[float, float] | None] = [None] * len(text_words)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            times[a + k] = (timed[b + k].start, timed[b + k].end)
    out: list[Word] = []
    i = 0
    while i < len(text_words):
        if times[i] is not None:
            out.append(Word(text_words[i], *times[i]))
            i += 1
            continue
        j = i
        while j < len(text_words) and times[j] is None:
            j += 1
        lo = out[-1].end if out else (timed[0].start if timed else 0.0)
        hi = times[j][0] if j < len(text_words) else (timed[-1].end if timed else duration)
        hi = max(hi, lo)
        step = (hi - lo) / (j - i)
        out += [Word(text_words[k], lo + (k - i) * step, lo + (k - i + 1) * step) for k in range(i, j)]
        i = j
    return out


def spread_phones(word: str, start: float, end: float) -> list[Phone]:
    """A word's dictionary phones over its span, vowels twice as long as consonants."""
    phones = with_stress(word, pronounce(word))
    weights = [2.0 if p.rstrip("012") in VOWELS else 1.0 for p in phones]
    total = sum(weights)
    out, t = [], start
    for p, w in zip(phones, weights):
        d = (end - start) * w / total
        out.append(Phone(p, round(t, 3), round(t + d, 3), stressed=p.endswith(("1", "2"))))
        t += d
    return out


class EnglishAligner:
    """Pocketsphinx forced alignment; the decoder is made on first use and kept for the process."""

    def __init__(self, chunking: ChunkOptions = ChunkOptions()) -> None:
        self.chunking = chunking
        self._decoder = None
        self._added: set[str] = set()  # words given to the decoder's dictionary
        self._lock = threading.Lock()  # one decoder, one utterance at a time

    def _get_decoder(self):
        if self._decoder is None:
            from pocketsphinx import Decoder

            # bestpath off: its lattice pass can end on a one-frame fake </s> that the second,
            # phone-level pass then cannot reach ("Failed to reach final state"; pocketsphinx #339).
            self._decoder = Decoder(loglevel="FATAL", bestpath=False)
        return self._decoder

    def align(self, samples: np.ndarray, words: Sequence[Word]) -> tuple[list[Word], list[Phone]]:
        """Phones of timed ``words`` over 16 kHz ``samples``; chunks that fail keep the word times."""
        duration = len(samples) / RATE
        out_words: list[Word] = []
        out_phones: list[Phone] = []
        chunks = plan_chunks(words, duration, self.chunking)
        fallbacks = 0
        for chunk in chunks:
            w, p, failed = self._align_or_split(samples, chunk)
            out_words += w
            out_phones += p
            fallbacks += failed
        if fallbacks:
            log.info("%d stretches of %d chunks kept the recogniser's word times", fallbacks, len(chunks))
        return out_words, _monotonic(out_phones)

    def align_text(self, samples: np.ndarray, text_words: Sequence[str]) -> tuple[list[Word], list[Phone]] | None:
        """Phones of a known text over all of 16 kHz ``samples`` in one pass, when the audio is at
        most ``chunking.whole_s`` long; None when it is longer or pocketsphinx cannot align it.

        Without a recogniser's word times, chunks can only be cut where the words are guessed to
        fall, and a guess one word off sinks both chunks; the whole text in one pass has no cuts to
        get wrong (a minute of speech aligns in a few seconds when the text matches it)."""
        tokens = [t for w in text_words for t in words_of(w)]
        duration = len(samples) / RATE
        if not tokens or duration > self.chunking.whole_s:
            return None
        result = self.align_chunk(samples, 0.0, duration, tokens)
        return None if result is None else (result[0], _monotonic(result[1]))

    def _align_or_split(self, samples: np.ndarray, chunk: Chunk) -> tuple[list[Word], list[Phone], int]:
        """Words, phones, and how many stretches fell back to the recogniser's times."""
        tokens = [t for w in chunk.words for t in words_of(w.text)]
        if not tokens:
            return [], [], 0
        result = self.align_chunk(samples, chunk.start, chunk.end, tokens)
        if result is not None:
            return result[0], result[1], 0
        if len(chunk.words) >= 4:
            # One misheard or mistimed word sinks a whole chunk: halve it at its widest gap and retry.
            ws = chunk.words
            k = max(range(1, len(ws) - 1), key=lambda i: ws[i].start - ws[i - 1].end)
            cut = (ws[k - 1].end + ws[k].start) / 2
            left = self._align_or_split(samples, Chunk(chunk.start, cut, ws[:k]))
            right = self._align_or_split(samples, Chunk(cut, chunk.end, ws[k:]))
            return left[0] + right[0], left[1] + right[1], left[2] + right[2]
        out_words, out_phones = [], []
        for w in chunk.words:
            for t, (a, b) in _split_word(w):
                out_words.append(Word(t, a, b, w.confidence))
                out_phones += spread_phones(t, a, b)
        return out_words, out_phones, 1

    def align_chunk(self, samples: np.ndarray, start: float, end: float, tokens: list[str]) -> tuple[list[Word], list[Phone]] | None:
        """Align ``tokens`` to ``samples[start:end]`` (seconds); None when pocketsphinx cannot."""
        # Quiet on both sides: the search must start and end in silence, and fails on speech
        # that runs to the very edge of the audio (a clip cut mid-word).
        pad = np.zeros(int(_EDGE_PAD * RATE), np.float32)
        piece = np.concatenate([pad, samples[int(start * RATE): int(end * RATE)], pad])
        pcm = (np.clip(piece, -1, 1) * 32767).astype("<i2").tobytes()
        start -= _EDGE_PAD
        with self._lock:
            d = self._get_decoder()
            try:
                # each word once: adding one again gives it a second entry, and alignments then
                # depended on what the process had aligned before (one phone of 324 moved 0.33 s)
                for t in sorted(set(tokens) - self._added):
                    if not in_dictionary(t):
                        d.add_word(t, " ".join(pronounce(t)), True)
                    self._added.add(t)
                d.set_align_text(" ".join(tokens))
                _decode(d, pcm)
                if d.hyp() is None:
                    return None
                d.set_alignment()
                _decode(d, pcm)
                alignment = d.get_alignment()
            except RuntimeError:
                return None
            if alignment is None:
                return None
            words, phones = [], []
            for w in alignment:
                if w.name.startswith(("<", "[", "+")):  # <sil>, <s>, fillers
                    continue
                name = w.name.split("(")[0]
                ws = start + w.start * _FRAME
                words.append(Word(name, round(ws, 3), round(ws + w.duration * _FRAME, 3)))
                stressed = iter(with_stress(name, tuple(p.name for p in w)))
                for p in w:
                    symbol = next(stressed, p.name)
                    ps = start + p.start * _FRAME
                    phones.append(Phone(symbol, round(ps, 3), round(ps + p.duration * _FRAME, 3),
                                        stressed=symbol.endswith(("1", "2"))))
        if [w.text for w in words] != tokens:
            return None
        return words, phones


def _decode(decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _split_word(w: Word) -> list[tuple[str, tuple[float, float]]]:
    # A recogniser "word" may hold several tokens ("1990" → nineteen ninety): share its time.
    tokens = words_of(w.text)
    if not tokens:
        return []
    step = (w.end - w.start) / len(tokens)
    return [(t, (w.start + i * step, w.start + (i + 1) * step)) for i, t in enumerate(tokens)]


def _monotonic(phones: list[Phone]) -> list[Phone]:
    """Sorted, non-overlapping phones: a fallback chunk's recogniser times may overlap a neighbour."""
    out: list[Phone] = []
    for p in sorted(phones, key=lambda p: p.start):
        start = max(p.start, out[-1].end) if out else p.start
        if p.end - start > 1e-3:
            out.append(Phone(p.symbol, start, p.end, p.stressed))
    return out
