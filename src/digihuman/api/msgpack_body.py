"""Request bodies in JSON or MessagePack: Fish Audio's SDK sends ``application/msgpack`` with raw bytes.

A route that takes either reads its body through :func:`object_body`, then validates it with its
pydantic model through :func:`validated`, so both encodings meet the same checks and the same
error messages as FastAPI's own JSON bodies.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from digihuman.errors import InvalidInput, TooLarge
from digihuman.media.fetch import human_size

MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
Model = TypeVar("Model", bound=BaseModel)


def is_msgpack(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in MSGPACK_TYPES


async def object_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a dict, from MessagePack or JSON by Content-Type; 413 past ``max_bytes``."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"the request body is larger than {human_size(max_bytes)}; "
                           "send shorter reference audio, or create a voice model with POST /model.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if is_msgpack(request):
        import msgpack

        try:
            data = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
            raise InvalidInput(f"invalid request: the body is not valid MessagePack ({e}).") from e
        what = "a MessagePack map"
    else:
        what = ("a JSON object sent with Content-Type: application/json "
                "(or MessagePack as application/msgpack)")
        data = _json(raw) if _is_json(request) or not raw.strip() else raw
    if not isinstance(data, dict):
        raise InvalidInput(f"invalid request: the body must be {what}; "
                           + ("it is missing." if data is None else "it is not one."))
    return data


def _is_json(request: Request) -> bool:
    """As FastAPI decides: JSON when so declared, or when no type is given at all."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return not kind or kind == "application/json" or (kind.startswith("application/")
                                                      and kind.endswith("+json"))


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"invalid request: the body is not valid JSON ({e.msg} at character {e.pos}); "
                           "send a JSON object.") from e
    except UnicodeDecodeError as e:
        raise InvalidInput("invalid request: the body is not valid JSON (it is not UTF-8 text); "
                           "send a JSON object.") from e


def validated(model: type[Model], data: dict[str, Any]) -> Model:
    """``data`` as ``model``; invalid fields answer as FastAPI's body validation does (400, fields named)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in e.errors(include_url=False)]
        raise RequestValidationError(errors) from e
