"""Database tables: tasks, API keys, voice models, avatar models, callbacks, webhook secrets and
task stage times.

Times are Unix seconds (floats) so SQLite and PostgreSQL store them alike.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class Base(DeclarativeBase):
    pass


class TaskRow(Base):
    __tablename__ = "tasks"
    # The per-key quota counts a key's active tasks on every submit.
    __table_args__ = (Index("ix_tasks_owner_status", "owner", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(200), default="")
    inputs: Mapped[dict] = mapped_column(JSON)
    outputs: Mapped[dict | None] = mapped_column(JSON)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[float] = mapped_column(Float)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, index=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float)
    files_purged: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)


class VoiceModelRow(Base):
    __tablename__ = "voice_models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    languages: Mapped[list] = mapped_column(JSON, default=list)
    train_mode: Mapped[str] = mapped_column(String(16), default="fast")
    task_id: Mapped[str | None] = mapped_column(String(32))
    cover_key: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float | None] = mapped_column(Float)  # of the last edit; None: never edited


class AvatarModelRow(Base):
    __tablename__ = "avatar_models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    # the training video's content (the sha256 prefix of its upload key), so it is trained once per owner
    source_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    video_s: Mapped[float | None] = mapped_column(Float)  # seconds of training video


class CallbackRow(Base):
    """One webhook message about a task's end, and every attempt to deliver it.

    ``state`` is waiting (the task has not ended), pending (due at ``next_at``),
    delivered or failed (given up); the body is frozen when the task ends, so
    retries send the same bytes under the same ``id`` (the webhook-id).
    """

    __tablename__ = "callbacks"
    # The deliverer looks for due messages by state and time on every pass.
    __table_args__ = (Index("ix_callbacks_state_next", "state", "next_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(32), index=True)
    owner: Mapped[str | None] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[list] = mapped_column(JSON, default=list)
    next_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)


class WebhookSecretRow(Base):
    """The secret that signs an API key's callbacks, by owner id (stored and configured keys alike)."""

    __tablename__ = "webhook_secrets"

    owner: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[float] = mapped_column(Float)


class StageTimeRow(Base):
    """Seconds one ended task spent in one stage (see digihuman.timings); /metrics reads them."""

    __tablename__ = "task_stage_times"
    __table_args__ = (Index("ix_task_stage_times_kind_stage", "kind", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(32), index=True)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(60))
    wall_s: Mapped[float] = mapped_column(Float)
    cpu_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
