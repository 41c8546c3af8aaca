"""The JSON envelope every route answers in: {"code", "msg", "data"}; errors share it."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from digihuman.api.dependencies import require_key
from digihuman.errors import DigihumanError, Unauthorized

log = logging.getLogger(__name__)

# Routes whose clients speak OpenAI's error shape; they get it beside the envelope.
OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions", "/v1/models", "/v1/audio/speech",
                "/v1/audio/transcriptions")


def ok(data: Any = None, msg: str = "ok") -> dict[str, Any]:
    return {"code": 200, "msg": msg, "data": data}


# Values echoed back in messages (ids, names, URLs) are cut to this many characters.
ECHO_CHARS = 64
_QUOTED = re.compile("'[^'\\n]{%d,}'|\"[^\"\\n]{%d,}\"" % (ECHO_CHARS + 1, ECHO_CHARS + 1))
_LONG_WORD = re.compile(r"\S{%d,}" % (2 * ECHO_CHARS + 1))


def clip_echoes(msg: str) -> str:
    """``msg`` with every long quoted value, and any very long unbroken run, cut to its start and "…".

    Messages quote what the user sent (an unknown id, a bad URL); a 10 KB id must not come back whole.
    """
    def quoted(m: re.Match[str]) -> str:
        text = m.group(0)
        return text[0] + text[1:ECHO_CHARS + 1] + "…" + text[-1]

    msg = _QUOTED.sub(quoted, msg)
    return _LONG_WORD.sub(lambda m: m.group(0)[:ECHO_CHARS] + "…", msg)


def error_response(request: Request, status: int, msg: str) -> JSONResponse:
    msg = clip_echoes(msg)
    body: dict[str, Any] = {"code": status, "msg": msg, "data": None}
    if request.url.path in OPENAI_PATHS:
        body["error"] = {"message": msg, "type": _openai_type(status), "code": status}
    if _is_fish_path(request.url.path):
        body["detail"] = msg
    return JSONResponse(body, status_code=status)


def _is_fish_path(path: str) -> bool:
    """Routes that Fish Audio's SDKs call: both read an error's message from ``detail``."""
    return path == "/v1/tts" or path == "/model" or path.startswith("/model/")


def _openai_type(status: int) -> str:
    return {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error"}.get(status, "server_error" if status >= 500 else "invalid_request_error")


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if errors and errors[0].get("type") == "json_invalid":
        why = (errors[0].get("ctx") or {}).get("error", "")
        where = errors[0].get("loc", ("body", None))[-1]
        at = f" at character {where}" if isinstance(where, int) else ""
        return f"invalid request: the body is not valid JSON ({why}{at}); send a JSON object."
    if errors and tuple(errors[0].get("loc", ())) == ("body",):
        # the body as a whole: absent, or not a JSON object
        return ("invalid request: the body must be a JSON object sent with Content-Type: application/json; "
                + ("it is missing." if errors[0].get("type") == "missing" else "it is not one."))
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "form"))
        text = str(error.get("msg", "invalid")).replace("Field required", "is required")
        parts.append(f"{where} {text}" if where else text)
    return "invalid request: " + "; ".join(parts) + "."


def _unparsable(exc: HTTPException) -> str:
    """What is wrong with a body FastAPI could not parse, rather than its generic words."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return "invalid request: the body is not valid UTF-8 JSON; send JSON text encoded as UTF-8."
    if isinstance(cause, RecursionError):
        return "invalid request: the JSON is nested too deeply; send a flatter JSON object."
    return str(exc.detail)


async def _key_refused(request: Request) -> JSONResponse | None:
    """The 401 for a route that needs a key when the request has no valid one, else None.

    FastAPI parses the body before it runs dependencies, so a malformed body would
    otherwise be answered (400) before the missing key.
    """
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not _uses(dependant, require_key):
        return None
    try:
        await run_in_threadpool(require_key, request, request.app.state.services)
    except Unauthorized as e:
        return error_response(request, e.status, e.message)
    return None


def _uses(dependant: Any, call: Any) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DigihumanError)
    async def _domain(request: Request, exc: DigihumanError) -> JSONResponse:
        return error_response(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await _key_refused(request) or error_response(request, 400, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(request, 404, f"no such route: {request.method} {request.url.path}.")
        if exc.status_code == 405:
            return error_response(request, 405, f"{request.method} is not allowed on {request.url.path}.")
        if exc.status_code == 400:  # a body FastAPI could not parse
            return await _key_refused(request) or error_response(request, 400, _unparsable(exc))
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return error_response(request, 500, "internal server error; the server log has the details.")
