"""Delivering task callbacks: signed POSTs, retried on a schedule, from a thread of the API server.

Messages are signed per Standard Webhooks: ``webhook-id`` (the same on every retry, so
the receiver can drop duplicates), ``webhook-timestamp`` (of this attempt) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the
API key's webhook secret. Receivers reach the same address rules as input
downloads: the connection goes to exactly the public address that was checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from digihuman.errors import DigihumanError, NotFound
from digihuman.media.fetch import check_url, checked_transport
from digihuman.services import Services
from digihuman.tasks.callbacks import Message, Outcome, callback_policy, next_delay
from digihuman.tasks.view import uniform_view

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)
USER_AGENT = "digihuman-callbacks/0.1"


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header value of one attempt."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Deliverer:
    """Turns ended tasks into messages and sends due attempts, a bounded number at a time."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings.callbacks
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.settings.max_concurrent),
                                        thread_name_prefix="callback")
        self._in_flight: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop looking for work and let attempts in flight finish (each is bounded by its timeout)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.settings.poll_s + 10)
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.poll_s):
            try:
                self.pass_once()
            except Exception:  # keep delivering; the next pass retries
                log.exception("callback pass failed")

    def pass_once(self, *, wait_for_attempts: bool = False) -> int:
        """Make messages of ended tasks, start due attempts; returns how many attempts were started."""
        self._make_messages()
        with self._lock:
            self._in_flight = {f for f in self._in_flight if not f.done()}
            free = self.settings.max_concurrent - len(self._in_flight)
        if free <= 0:
            return 0
        # Held long enough for the attempt to end; a server that dies mid-attempt frees it after that.
        lease = self.settings.timeout_s + self.services.settings.media.connect_timeout_s + 30
        started = [self._pool.submit(self._attempt, m) for m in self.services.callbacks.claim_due(free, lease)]
        with self._lock:
            self._in_flight.update(started)
        if wait_for_attempts:
            wait(started)
            for future in started:
                future.result()
        return len(started)

    def _make_messages(self) -> None:
        store = self.services.callbacks
        for message_id in store.ended_waiting():
            try:
                task = self.services.tasks.get(store.task_of(message_id))
            except NotFound:
                continue
            # Frozen now: every retry sends the task as it ended, under the same webhook-id.
            body = json.dumps(uniform_view(self.services, task), ensure_ascii=False, separators=(",", ":"))
            store.make_due(message_id, body)

    def _attempt(self, message: Message) -> None:
        at = time.time()
        outcome = self._post(message, int(at))
        next_at = None
        if not outcome.delivered:
            delay = next_delay(self.settings, message.attempt, message.first_at or at, at)
            next_at = None if delay is None else at + delay
        self.services.callbacks.record(message, at, outcome, next_at)
        extra = {"task_id": message.task_id, "webhook_id": message.id, "attempt": message.attempt,
                 "status_code": outcome.status_code, "error": outcome.error}
        if outcome.delivered:
            log.info("callback delivered", extra=extra)
        else:
            log.warning("callback attempt failed" + ("" if next_at else "; giving up"), extra=extra)

    def _post(self, message: Message, timestamp: int) -> Outcome:
        import httpx

        policy = callback_policy(self.services.settings)
        secret = self.services.keys.webhook_secret(message.owner or "")
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message.id, timestamp, message.body),
        }
        timeout = httpx.Timeout(self.settings.timeout_s, connect=policy.connect_timeout_s)
        try:
            check_url(message.url, policy, "callback_url")
            # trust_env=False: a proxy from the environment would connect to hosts we never checked
            with httpx.Client(transport=checked_transport(policy, "callback_url"), timeout=timeout,
                              follow_redirects=False, trust_env=False) as client:
                response = client.post(message.url, content=message.body.encode(), headers=headers)
            return Outcome(status_code=response.status_code)
        except DigihumanError as e:  # refused or unresolvable address
            return Outcome(error=e.message)
        except httpx.HTTPError as e:
            return Outcome(error=_describe(e, self.settings.timeout_s))


def _describe(e: httpx.HTTPError, timeout_s: float) -> str:
    import httpx

    if isinstance(e, httpx.TimeoutException):
        return f"the receiver did not answer within {timeout_s:g} s"
    if isinstance(e, httpx.ConnectError):
        return "could not connect to the receiver"
    if isinstance(e, httpx.RemoteProtocolError):
        return "the receiver closed the connection without an answer"
    return f"the request failed ({type(e).__name__})"
