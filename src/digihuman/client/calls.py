"""One HTTP exchange with a digihuman server, described as plain data: what to send, how to read the answer.

Nothing here does I/O: the sync and async clients both execute these descriptions, so a
request is built, and its answer parsed, in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from digihuman.client.errors import ClientError

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request and the function that turns its response into a result (or raises ClientError)."""

    method: str
    path: str  # below the server's base URL, or an absolute URL
    parse: Callable[[httpx.Response], T]
    json: Any = None
    data: Mapping[str, Any] | None = None
    files: tuple[tuple[str, Path], ...] = ()  # multipart fields, each a local file
    params: Mapping[str, str] | None = None
    save_to: Path | None = None  # stream the body into this file instead of reading it
    headers: Mapping[str, str] = field(default_factory=dict)


def error_message(response: httpx.Response) -> str:
    """The server's one-sentence reason from its JSON envelope, or what can be said without one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        msg = body.get("msg") or body.get("detail")
        if isinstance(msg, str) and msg:
            return msg
    return f"the server answered HTTP {response.status_code} to {response.request.method} {response.request.url.path}"


def check(response: httpx.Response) -> None:
    """Raise ClientError for an error answer (HTTP status or envelope code)."""
    if response.is_error:
        raise ClientError(error_message(response), response.status_code)


def envelope(response: httpx.Response) -> Any:
    """``data`` of a ``{"code", "msg", "data"}`` answer."""
    check(response)
    body = response.json()
    if not isinstance(body, dict) or body.get("code", 200) != 200:
        raise ClientError(error_message(response), int(body.get("code", 500)) if isinstance(body, dict) else 500)
    return body.get("data")


def plain_json(response: httpx.Response) -> Any:
    check(response)
    return response.json()


def saved(path: Path) -> Callable[[httpx.Response], Path]:
    def parse(response: httpx.Response) -> Path:
        check(response)
        return path

    return parse


def task_id_of(response: httpx.Response) -> str:
    data = envelope(response)
    return data.get("task_id") or data["id"]


def form_fields(**fields: Any) -> dict[str, str]:
    """Form fields without the unset ones; booleans as the server's forms read them."""
    return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in fields.items()
            if v is not None}


# Routes, one function each.

def upload(path: Path) -> Call[str]:
    return Call("POST", "/v1/files", lambda r: envelope(r)["url"], files=(("file", path),))


def avatar_generation(body: dict[str, Any]) -> Call[str]:
    return Call("POST", "/avatar/generation", task_id_of, json=body)


def agent(act: str, parse: Callable[[httpx.Response], T] = task_id_of, **fields: Any) -> Call[T]:
    return Call("POST", "/agent_api.php", parse, data=form_fields(act=act, **fields))


def voice_model(samples: list[Path], fields: dict[str, Any]) -> Call[dict[str, Any]]:
    files = tuple(("voices", p) for p in samples)
    return Call("POST", "/model", plain_json, data=fields, files=files)


def get_voice_model(model_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/model/{model_id}", plain_json)


def tts(body: dict[str, Any], out: Path) -> Call[Path]:
    return Call("POST", "/v1/tts", saved(out), json=body, save_to=out)


def generate_video(body: dict[str, Any]) -> Call[str]:
    return Call("POST", "/generate_video", task_id_of, json=body)


def chat(model: str, text: str) -> Call[str]:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return Call("POST", "/v1/chat/completions", lambda r: plain_json(r)["choices"][0]["message"]["content"],
                json=body)


def task(task_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/v1/tasks/{task_id}", envelope)


def cancel(task_id: str) -> Call[dict[str, Any]]:
    return Call("POST", f"/v1/tasks/{task_id}/cancel", envelope)


def webhook_secret() -> Call[str]:
    return Call("GET", "/v1/webhook-secret", lambda r: envelope(r)["secret"])


def download(url: str, out: Path) -> Call[Path]:
    return Call("GET", url, saved(out), save_to=out)


def events(task_id: str) -> Call[None]:
    """The task's server-sent events; the clients read the stream themselves (see watch.py)."""
    return Call("GET", f"/v1/tasks/{task_id}/events", check, headers={"accept": "text/event-stream"})
