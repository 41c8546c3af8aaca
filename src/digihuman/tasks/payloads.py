"""What each kind of task is asked to do: one frozen, validated payload class per task kind.

Routes build a payload (a bad option is a 400 at submit, naming the field); the task record keeps
``payload.to_json()`` as its inputs, so the database holds plain JSON; the worker rebuilds the payload
with ``from_json`` before running the job. Key names are those task rows have always carried, so rows
written before payloads existed still load.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeVar

from digihuman.errors import InvalidInput

AVATAR_GENERATE = "avatar.generate"  # /avatar/generation
AVATAR_V2 = "avatar.v2"  # create_v2
AVATAR_TRAIN = "avatar.train"  # create_model_fast
AVATAR_FAST = "avatar.fast"  # create_video_fast
VOICE_TRAIN = "voice.train"  # POST /model, create_model_audio
VOICE_SAY = "voice.say"  # create_audio
REMIX = "remix"  # /generate_video

# Not part of any payload: the API server's stage timings, stored beside the payload's keys.
INTAKE_TIMINGS = "intake_timings"

MIN_SIDE, MAX_SIDE = 128, 3840  # the resolution option's range (api/resolution.py checks requests the same)
QUALITIES = ("standard", "v2")
TRAIN_MODES = ("fast", "full")
AVATAR_KINDS = ("image", "video")

P = TypeVar("P", bound="Payload")
T = TypeVar("T")


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "a string", bool: "true or false", int: "an integer", float: "a number", list: "a list",
             dict: "an object", type(None): "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check(name: str, value: Any, *types: type) -> None:
    """``value`` is of one of ``types``; a bool is no number here, as in JSON."""
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types) or (float in types and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise InvalidInput(f"{name} must be {_type_name(types)}, not {type(value).__name__}.")


def _key(name: str, value: Any) -> None:
    """A storage key: a non-empty relative path inside the storage."""
    _check(name, value, str)
    if not value or value.startswith("/") or ".." in value.split("/"):
        raise InvalidInput(f"{name} must be a storage key such as uploads/<hash>.mp4, not {value[:60]!r}.")


def _text(name: str, value: Any) -> None:
    _check(name, value, str)
    if not value.strip():
        raise InvalidInput(f"{name} is empty: give the words to speak.")


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, not {str(value)[:40]!r}.")


def _resolution(value: Any) -> None:
    if value is None:
        return
    _check("resolution", value, int)
    if not MIN_SIDE <= value <= MAX_SIDE or value % 2:
        raise InvalidInput(f"resolution must be an even number of pixels from {MIN_SIDE} to {MAX_SIDE}, not {value}.")


def _fields_of(cls: type, data: Any, where: str) -> dict[str, Any]:
    """``data`` checked to be an object whose keys are all fields of ``cls``."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{where} must be an object, not {type(data).__name__}.")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidInput(f"{where} has unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(names))}.")
    return data


@dataclass(frozen=True)
class Payload:
    """Base of the payloads: JSON in and out, unknown keys refused."""

    KIND: ClassVar[str]
    # Keys that rows written by earlier versions carry and this version no longer reads: dropped on load.
    RETIRED: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (lists for tuples, objects for nested payload parts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls: type[P], data: dict[str, Any]) -> P:
        """The payload a task row (or ``to_json``) describes; InvalidInput names what does not fit."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in cls.RETIRED}
        return _build(cls, data, f"the stored request of this {cls.KIND} task")


def _build(cls: type[T], data: Any, where: str) -> T:
    known = _fields_of(cls, data, where)
    missing = [f.name for f in fields(cls)  # type: ignore[arg-type]
               if f.default is MISSING and f.default_factory is MISSING and f.name not in known]
    if missing:
        raise InvalidInput(f"{where} lacks {', '.join(missing)}.")
    return cls(**_nested(cls, known))


def _plain(value: Any) -> Any:
    if isinstance(value, Part):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _nested(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with nested parts built and JSON lists made tuples, as the dataclass fields expect."""
    parts: dict[str, type[Part]] = getattr(cls, "PARTS", {})
    out = dict(data)
    for name, value in data.items():
        if name in parts and value is not None:
            part = parts[name]
            out[name] = _build(part, value, name)
        elif isinstance(value, list):
            out[name] = tuple(value)
    return out


@dataclass(frozen=True)
class Part:
    """A nested object of a payload."""


@dataclass(frozen=True)
class UseVoice(Part):
    """Speech made from text by a stock voice or a voice model."""

    voice_engine_id: str  # a stock voice id or a voice model id
    text: str  # what the avatar says
    audio_id: str | None = None  # accepted from clients and kept; not used by the renderer
    language: str | None = None  # a hint kept from the request

    def __post_init__(self) -> None:
        _check("use_voice.voice_engine_id", self.voice_engine_id, str)
        if not self.voice_engine_id:
            raise InvalidInput("use_voice.voice_engine_id is empty: give a stock voice id or a voice model id.")
        _text("use_voice.text", self.text)
        _check("use_voice.audio_id", self.audio_id, str, type(None))
        _check("use_voice.language", self.language, str, type(None))


@dataclass(frozen=True)
class CreateVoice(Part):
    """Speech in a voice cloned, for this task only, from a sample."""

    audio_key: str  # the stored sample of the voice
    text: str  # what the avatar says in that voice
    language: str | None = None  # language of the text, e.g. en or zh; None: detected

    def __post_init__(self) -> None:
        _key("create_voice.audio_key", self.audio_key)
        _text("create_voice.text", self.text)
        _check("create_voice.language", self.language, str, type(None))


@dataclass(frozen=True)
class AvatarGeneratePayload(Payload):
    """/avatar/generation: a photo or video avatar says given audio, a stock voice or a cloned one."""

    KIND: ClassVar[str] = AVATAR_GENERATE
    PARTS: ClassVar[dict[str, type[Part]]] = {"use_voice": UseVoice, "create_voice": CreateVoice}

    avatar_key: str  # the stored photo or video of the person
    avatar_kind: Literal["image", "video"] = "image"  # what avatar_key holds
    avatar_model_id: str | None = None  # video avatars: the avatar model to render through (trained if new)
    audio_key: str | None = None  # the speech to say, stored; or
    use_voice: UseVoice | None = None  # text spoken by a voice; or
    create_voice: CreateVoice | None = None  # text spoken by a voice cloned from a sample
    quality: Literal["standard", "v2"] = "standard"  # v2 spends more time on blending and smoothing
    no_watermark: bool = False  # True: the video is clean (else it carries the server's mark)
    resolution: int | None = None  # long side of the video in pixels; None: the avatar's own size
    # with audio_key: what the audio says, so the mouth is aligned to these words, not recognised
    text: str | None = None

    def __post_init__(self) -> None:
        _key("avatar_key", self.avatar_key)
        _one_of("avatar_kind", self.avatar_kind, AVATAR_KINDS)
        _check("avatar_model_id", self.avatar_model_id, str, type(None))
        if self.avatar_model_id is not None and self.avatar_kind != "video":
            raise InvalidInput("avatar_model_id is for video avatars only; a photo is rendered as it is.")
        given = [n for n in ("audio_key", "use_voice", "create_voice") if getattr(self, n) is not None]
        if len(given) != 1:
            raise InvalidInput("give exactly one of audio_key, use_voice or create_voice"
                               + (f", not {' and '.join(given)}." if given else "."))
        if self.audio_key is not None:
            _key("audio_key", self.audio_key)
        _check("text", self.text, str, type(None))
        if self.text is not None and self.audio_key is None:
            raise InvalidInput("text goes with audio_url (what the audio says); use_voice and create_voice "
                               "carry their own text.")
        _check("use_voice", self.use_voice, UseVoice, type(None))
        _check("create_voice", self.create_voice, CreateVoice, type(None))
        _one_of("quality", self.quality, QUALITIES)
        _check("no_watermark", self.no_watermark, bool)
        _resolution(self.resolution)


@dataclass(frozen=True)
class AvatarV2Payload(AvatarGeneratePayload):
    """create_v2: a video avatar says given audio, rendered at V2 quality without a watermark."""

    KIND: ClassVar[str] = AVATAR_V2

    avatar_kind: Literal["image", "video"] = "video"  # always a video
    quality: Literal["standard", "v2"] = "v2"
    no_watermark: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.avatar_kind != "video":
            raise InvalidInput("avatar_kind of a V2 task must be video: create_v2 renders from a video.")
        if self.audio_key is None:
            raise InvalidInput("audio_key is required: create_v2 says given audio.")


@dataclass(frozen=True)
class AvatarTrainPayload(Payload):
    """create_model_fast: build an avatar model from a talking video."""

    KIND: ClassVar[str] = AVATAR_TRAIN

    avatar_model_id: str  # the catalog entry the trained model belongs to
    video_key: str  # the stored talking video

    def __post_init__(self) -> None:
        _check("avatar_model_id", self.avatar_model_id, str)
        if not self.avatar_model_id:
            raise InvalidInput("avatar_model_id is empty.")
        _key("video_key", self.video_key)


@dataclass(frozen=True)
class AvatarFastPayload(Payload):
    """create_video_fast: a trained avatar model says given audio."""

    KIND: ClassVar[str] = AVATAR_FAST

    avatar_model_id: str  # a trained avatar model
    audio_key: str  # the stored speech to say
    quality: Literal["standard", "v2"] = "standard"  # v2 spends more time on blending and smoothing
    no_watermark: bool = True  # the high-speed flow has always given clean videos
    resolution: int | None = None  # long side of the video in pixels; None: the model's own size

    def __post_init__(self) -> None:
        _check("avatar_model_id", self.avatar_model_id, str)
        if not self.avatar_model_id:
            raise InvalidInput("avatar_model_id is empty.")
        _key("audio_key", self.audio_key)
        _one_of("quality", self.quality, QUALITIES)
        _check("no_watermark", self.no_watermark, bool)
        _resolution(self.resolution)


@dataclass(frozen=True)
class VoiceTrainPayload(Payload):
    """POST /model, create_model_audio: build a voice model from speech samples."""

    KIND: ClassVar[str] = VOICE_TRAIN

    voice_model_id: str  # the catalog entry the trained model belongs to
    sample_keys: tuple[str, ...]  # the stored samples, one or more
    texts: tuple[str, ...] | None = None  # their transcripts, one per sample; None: recognised
    sample_names: tuple[str, ...] = ()  # the samples' upload names, for messages that name one
    train_mode: Literal["fast", "full"] = "fast"  # full spends longer for a closer voice
    enhance: bool = False  # denoise the samples first
    language: str | None = None  # the samples' language; None: detected

    def __post_init__(self) -> None:
        _check("voice_model_id", self.voice_model_id, str)
        if not self.voice_model_id:
            raise InvalidInput("voice_model_id is empty.")
        _check("sample_keys", self.sample_keys, tuple)
        if not self.sample_keys:
            raise InvalidInput("sample_keys is empty: give at least one speech sample.")
        for i, key in enumerate(self.sample_keys):
            _key(f"sample_keys[{i}]", key)
        _check("texts", self.texts, tuple, type(None))
        if self.texts is not None:
            if len(self.texts) != len(self.sample_keys):
                raise InvalidInput(f"texts has {len(self.texts)} transcripts for {len(self.sample_keys)} samples; "
                                   "give one per sample or none.")
            for i, text in enumerate(self.texts):
                _check(f"texts[{i}]", text, str)
        _check("sample_names", self.sample_names, tuple)
        for i, name in enumerate(self.sample_names):
            _check(f"sample_names[{i}]", name, str)
        _one_of("train_mode", self.train_mode, TRAIN_MODES)
        _check("enhance", self.enhance, bool)
        _check("language", self.language, str, type(None))


@dataclass(frozen=True)
class VoiceSayPayload(Payload):
    """create_audio: speak a text with a voice into a WAV file."""

    KIND: ClassVar[str] = VOICE_SAY

    voice_id: str  # a stock voice id or a voice model id
    text: str  # what to say

    def __post_init__(self) -> None:
        _check("voice_id", self.voice_id, str)
        if not self.voice_id:
            raise InvalidInput("voice_id is empty: give a stock voice id or a voice model id.")
        _text("text", self.text)


@dataclass(frozen=True)
class RemixPayload(Payload):
    """/generate_video: subtitles, floating text, picture changes and an optional re-dub of a video.

    ``transforms`` and ``subtitle_style`` stay the request's own objects: the remix engine parses them
    (remix/options.py), and the route has checked them with the same parsers at submit.
    """

    KIND: ClassVar[str] = REMIX
    # Rows from before callbacks were registered apart kept the request's callback_url here.
    RETIRED: ClassVar[frozenset[str]] = frozenset({"callback_url"})

    video_key: str  # the stored video to remix
    text_content: str | None = None  # the script; None: transcribed from the video
    custom_floating_text: tuple[str, ...] = ()  # floating captions shown in turn
    voice: str | None = None  # re-dub with this stock voice or voice model; None: keep the speech
    rewrite: str | None = None  # rewrite style of the script before re-dubbing (needs voice)
    transforms: dict[str, Any] = field(default_factory=dict)  # picture and sound changes
    subtitle_style: dict[str, Any] = field(default_factory=dict)  # subtitle and floating-text look
    music_key: str | None = None  # stored background music (from transforms.music_url)

    def __post_init__(self) -> None:
        _key("video_key", self.video_key)
        _check("text_content", self.text_content, str, type(None))
        _check("custom_floating_text", self.custom_floating_text, tuple)
        for i, line in enumerate(self.custom_floating_text):
            _check(f"custom_floating_text[{i}]", line, str)
        _check("voice", self.voice, str, type(None))
        _check("rewrite", self.rewrite, str, type(None))
        if self.rewrite is not None and not self.voice:
            raise InvalidInput("rewrite needs voice: the rewritten script is spoken by that voice.")
        _check("transforms", self.transforms, dict)
        _check("subtitle_style", self.subtitle_style, dict)
        if self.music_key is not None:
            _key("music_key", self.music_key)
