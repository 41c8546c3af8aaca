"""The caller's webhook secret, which signs the callbacks of its tasks: GET /v1/webhook-secret."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from digihuman.api.dependencies import Owner, ServicesDep
from digihuman.api.envelope import ok

router = APIRouter(tags=["tasks"])


@router.get("/v1/webhook-secret")
def webhook_secret(owner: Owner, services: ServicesDep) -> dict[str, Any]:
    """``whsec_...``: verify a callback's ``webhook-signature`` with it (any Standard Webhooks library)."""
    return ok({"secret": services.keys.webhook_secret(owner), "scheme": "standard-webhooks v1"})
