"""Request-scoped access to the process's services, and API-key authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from digihuman.errors import Unauthorized
from digihuman.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


# Declares the Bearer scheme in the OpenAPI document, so /docs offers "Authorize"; the check is ours.
_bearer = HTTPBearer(auto_error=False, description="Your API key (`digihuman keys create`).")


def require_key(request: Request, services: Annotated[Services, Depends(get_services)],
                _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> str:
    """The owner id of the request's Bearer key; 401 when missing or unknown."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing API key: send the header 'Authorization: Bearer <your key>'.")
    return _identify(request, services, key.strip())


def require_stream_key(request: Request, services: Annotated[Services, Depends(get_services)]) -> str:
    """As require_key, but also takes ``?key=``: a browser's EventSource cannot send headers."""
    key = request.query_params.get("key", "").strip()
    if key and "authorization" not in request.headers:
        return _identify(request, services, key)
    return require_key(request, services)


def _identify(request: Request, services: Services, key: str) -> str:
    owner = services.keys.identify(key)
    if owner is None:
        raise Unauthorized("invalid API key: check the key, or create one with 'digihuman keys create'.")
    request.state.owner = owner
    return owner


ServicesDep = Annotated[Services, Depends(get_services)]
Owner = Annotated[str, Depends(require_key)]
StreamOwner = Annotated[str, Depends(require_stream_key)]
