"""Task callbacks: which URL hears about a task's end, and the record of every delivery attempt.

A callback is registered when its task is submitted and waits until the task ends
(whichever process ends it: a worker, the reaper, a cancel). The deliverer then
freezes the message body and works through attempts on the retry schedule. Each
state change is a conditional UPDATE, so deliverers in several API servers can
share one database: only one of them wins the claim of a due attempt.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from digihuman.config import CallbackSettings, Settings
from digihuman.database import Database
from digihuman.errors import FetchFailed, InvalidInput
from digihuman.media.fetch import FetchPolicy, check_url
from digihuman.tasks.records import CallbackRow, TaskRow, TaskStatus

WAITING, PENDING, DELIVERED, FAILED = "waiting", "pending", "delivered", "failed"
FINAL_TASK = (TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value, TaskStatus.CANCELLED.value)
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class Message:
    """A callback whose task has ended, claimed by one deliverer for one attempt."""

    id: str
    task_id: str
    owner: str | None
    url: str
    body: str
    attempt: int  # 1 for the first try
    first_at: float | None  # when the first attempt was made; None for the first


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error that prevented one."""

    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def callback_policy(settings: Settings) -> FetchPolicy:
    """The same address rules as input downloads: public hosts only, unless allow-listed."""
    return FetchPolicy(max_bytes=0, connect_timeout_s=settings.media.connect_timeout_s,
                       read_timeout_s=settings.callbacks.timeout_s, max_redirects=0,
                       allowed_hosts=frozenset(settings.allowed_hosts))


def check_callback_url(url: str, settings: Settings) -> None:
    """Refuse a callback_url that is malformed, not http(s), or leads to a private address (400)."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"callback_url is longer than {MAX_URL_CHARS} characters; give a shorter URL.")
    try:
        check_url(url, callback_policy(settings), "callback_url")
    except FetchFailed as e:  # an unresolvable host is the caller's mistake here, not a failed download
        raise InvalidInput(f"callback_url names a host that does not resolve: {url[:100]}; "
                           "give a URL this server can reach.") from e


def next_delay(settings: CallbackSettings, attempts_made: int, first_at: float, now: float) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failed ones; None to give up."""
    delays = settings.retry_delays_s
    if not delays:
        return None
    delay = delays[min(attempts_made - 1, len(delays) - 1)]
    if now + delay - first_at > settings.give_up_after_s:
        return None
    return delay


class CallbackStore:
    """Registers callbacks, hands out due attempts and records their outcomes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, task_id: str, owner: str | None, url: str) -> str:
        """Remember to tell ``url`` when the task ends; returns the message id (the webhook-id)."""
        message_id = "msg_" + uuid.uuid4().hex
        with self.db.transaction() as s:
            s.add(CallbackRow(id=message_id, task_id=task_id, owner=owner, url=url, state=WAITING,
                              attempts=[], created_at=time.time()))
        return message_id

    def ended_waiting(self, limit: int = 100) -> list[str]:
        """Ids of callbacks whose task has ended but whose message is not yet made."""
        query = (select(CallbackRow.id).join(TaskRow, TaskRow.id == CallbackRow.task_id)
                 .where(CallbackRow.state == WAITING, TaskRow.status.in_(FINAL_TASK)).limit(limit))
        with self.db.transaction() as s:
            return list(s.scalars(query))

    def task_of(self, message_id: str) -> str:
        with self.db.transaction() as s:
            return s.scalars(select(CallbackRow.task_id).where(CallbackRow.id == message_id)).one()

    def make_due(self, message_id: str, body: str) -> bool:
        """Freeze the body of a waiting message and make it due now; False when another server did."""
        now = time.time()
        with self.db.transaction() as s:
            result = s.execute(update(CallbackRow).where(CallbackRow.id == message_id, CallbackRow.state == WAITING)
                               .values(state=PENDING, body=body, next_at=now))
            return result.rowcount == 1

    def claim_due(self, limit: int, lease_s: float) -> list[Message]:
        """Up to ``limit`` due messages, each held for ``lease_s`` so that no other deliverer takes it."""
        now = time.time()
        with self.db.transaction() as s:
            rows = s.execute(select(CallbackRow.id, CallbackRow.next_at)
                             .where(CallbackRow.state == PENDING, CallbackRow.next_at <= now)
                             .order_by(CallbackRow.next_at).limit(limit)).all()
        claimed: list[Message] = []
        for message_id, due_at in rows:
            with self.db.transaction() as s:
                won = s.execute(update(CallbackRow)
                                .where(CallbackRow.id == message_id, CallbackRow.state == PENDING,
                                       CallbackRow.next_at == due_at)
                                .values(next_at=now + lease_s)).rowcount == 1
                if won:
                    row = s.get(CallbackRow, message_id)
                    assert row is not None and row.body is not None
                    first = row.attempts[0]["at"] if row.attempts else None
                    claimed.append(Message(row.id, row.task_id, row.owner, row.url, row.body,
                                           len(row.attempts) + 1, first))
        return claimed

    def record(self, message: Message, at: float, outcome: Outcome, next_at: float | None) -> None:
        """Add an attempt to the message and schedule the next one (or end it: delivered, given up)."""
        attempt = {"url": message.url, "attempt": message.attempt, "at": at, "status_code": outcome.status_code,
                   "error": outcome.error, "next_at": next_at}
        state = DELIVERED if outcome.delivered else (PENDING if next_at is not None else FAILED)
        with self.db.transaction() as s:
            row = s.get(CallbackRow, message.id)
            if row is None:
                return
            row.attempts = [*row.attempts, attempt]  # a new list: JSON columns do not track in-place changes
            row.state = state
            row.next_at = next_at
            row.ended_at = None if state == PENDING else time.time()

    def attempts(self, task_id: str) -> list[dict[str, Any]]:
        """Every delivery attempt about ``task_id``, oldest first."""
        with self.db.transaction() as s:
            rows = s.scalars(select(CallbackRow.attempts).where(CallbackRow.task_id == task_id)
                             .order_by(CallbackRow.created_at)).all()
        return [attempt for attempts in rows for attempt in attempts]

    def state(self, task_id: str) -> list[tuple[str, str]]:
        """(url, state) of each callback of ``task_id``."""
        with self.db.transaction() as s:
            return [(u, st) for u, st in s.execute(select(CallbackRow.url, CallbackRow.state)
                                                   .where(CallbackRow.task_id == task_id))]
