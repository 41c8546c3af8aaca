"""Errors a user can act on, each carrying the HTTP status it maps to.

    DigihumanError                 (500) base; its message is shown to the user
    ├── InvalidInput               (400) a field is missing, malformed or contradictory
    │   └── UrlRefused             (400) scheme not http(s), or a private address not allow-listed
    ├── Unauthorized               (401) missing or unknown API key
    ├── NotFound                   (404) unknown task, model, voice or file
    ├── Conflict                   (409) the object is not in a state that allows this
    ├── TooLarge                   (413) a body or a downloaded input exceeds its limit
    ├── MediaRejected              (422) the content is not what it must be (not a video, no face…)
    ├── TooManyTasks               (429) the key already has its quota of active tasks
    ├── FetchFailed                (502) an input URL could not be downloaded
    ├── BackendFailed              (502) a remote engine (e.g. a chat endpoint) failed
    ├── EngineUnavailable          (503) the engine a route needs is not installed
    ├── ServerBusy                 (503) a bounded resource (e.g. download slots) is full; retry shortly
    ├── TaskCancelled              (499) raised inside a job when its task was cancelled
    └── TaskTimedOut               (504) raised inside a job past its time limit

Messages are one sentence that says what to fix; causes are chained with ``from``.
"""

from __future__ import annotations


class DigihumanError(Exception):
    """Base of every error whose message is meant for the user."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DigihumanError):
    status = 400


class UrlRefused(InvalidInput):
    pass


class Unauthorized(DigihumanError):
    status = 401


class NotFound(DigihumanError):
    status = 404


class Conflict(DigihumanError):
    status = 409


class TooLarge(DigihumanError):
    status = 413


class MediaRejected(DigihumanError):
    status = 422


class TooManyTasks(DigihumanError):
    status = 429


class FetchFailed(DigihumanError):
    status = 502


class BackendFailed(DigihumanError):
    status = 502


class EngineUnavailable(DigihumanError):
    status = 503

    def __init__(self, engine: str, hint: str = "") -> None:
        detail = f"engine not available: {engine} is not installed on this server"
        super().__init__(detail + (f" ({hint})" if hint else "") + "; try again once the operator has installed it.")
        self.engine = engine


class ServerBusy(DigihumanError):
    status = 503


class TaskCancelled(DigihumanError):
    status = 499


class TaskTimedOut(DigihumanError):
    status = 504
