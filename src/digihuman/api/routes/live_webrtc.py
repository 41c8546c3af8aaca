"""A live session over WebRTC, WHEP-style (API.md §7): ``POST whep_url`` with an SDP offer → ``201`` with
the SDP answer, and a ``Location`` to ``DELETE`` when the viewer leaves.

The session token in the URL authorises, as on the WebSocket: browsers cannot put an API key on a media
connection. The offer may open a data channel: the session's events (``speaking``, ``idle``, ``error``)
are sent on it as JSON text, in step with the picture.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from digihuman.errors import InvalidInput, NotFound
from digihuman.live.registry import get_session
from digihuman.live.webrtc import WhepViewers

router = APIRouter(tags=["live avatar"])

SDP = "application/sdp"
MAX_OFFER_BYTES = 64 * 1024  # a browser's offer is a few kB


def viewers_of(request: Request) -> WhepViewers:
    """The app's WebRTC viewers, made on first use."""
    state = request.app.state
    if getattr(state, "whep_viewers", None) is None:
        state.whep_viewers = WhepViewers()
    return state.whep_viewers  # type: ignore[no-any-return]


@router.post("/v1/live/{session_id}/whep", status_code=201, response_class=Response,
             responses={201: {"content": {SDP: {}}, "description": "The SDP answer."}})
async def whep_offer(session_id: str, request: Request,
                     token: str = Query("", description="the session token")) -> Response:
    """Watch a live session over WebRTC: the body is the SDP offer (recvonly video and audio)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != SDP:
        raise InvalidInput(f"send the SDP offer as the body with Content-Type: {SDP}.")
    body = await request.body()
    if not body.strip() or len(body) > MAX_OFFER_BYTES:
        raise InvalidInput("the body must be an SDP offer (a few kB of text starting with v=0).")
    session = get_session(request.app, session_id, token)
    try:
        viewer_id, answer = await viewers_of(request).answer(session, body.decode("utf-8", "replace"))
    except ValueError as e:
        raise InvalidInput(f"{e}; send a WebRTC offer with recvonly video and audio.") from e
    location = f"/v1/live/{quote(session_id)}/whep/{viewer_id}?token={quote(token)}"
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


@router.delete("/v1/live/{session_id}/whep/{viewer_id}", response_class=Response)
async def whep_leave(session_id: str, viewer_id: str, request: Request,
                     token: str = Query("", description="the session token")) -> Response:
    """Stop watching: closes this viewer's peer connection (the session goes on)."""
    get_session(request.app, session_id, token)
    if not await viewers_of(request).close(session_id, viewer_id):
        raise NotFound("this WebRTC viewer is not connected (it has already left or its session ended).")
    return Response(status_code=200)
