"""GET /health and GET /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from digihuman import __version__
from digihuman.api.dependencies import Owner, ServicesDep

router = APIRouter(tags=["system"])


@router.get("/health")
def health(services: ServicesDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        services.tasks.count_active(None)
        checks["database"] = "ok"
    except Exception as e:
        checks["database"] = f"error: {type(e).__name__}"
    try:
        checks["queue_depth"] = services.queue.depth()
        checks["queue"] = "ok"
    except Exception as e:
        checks["queue"] = f"error: {type(e).__name__}"
    engines = services.engines
    checks["engines"] = {name: getattr(engines, name) is not None
                         for name in ("tts", "voice_cloner", "talking_head", "chat", "remixer")}
    healthy = checks["database"] == "ok" and checks["queue"] == "ok"
    status = 200 if healthy else 503
    msg = "ok" if healthy else "the database or the task queue is unreachable."
    return JSONResponse({"code": status, "msg": msg, "data": {"version": __version__, **checks}}, status_code=status)


@router.get("/metrics")
def metrics(request: Request, owner: Owner) -> Response:
    return Response(request.app.state.metrics.exposition(owner), media_type=CONTENT_TYPE_LATEST)
