"""Records of voice models and avatar models; their state follows their training task."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select

from digihuman.database import Database
from digihuman.errors import NotFound
from digihuman.tasks.records import ApiKeyRow, AvatarModelRow, TaskRow, TaskStatus, VoiceModelRow

# The state of a model whose training task is in a given status.
_STATE = {
    None: "created",
    TaskStatus.QUEUED.value: "training",
    TaskStatus.RUNNING.value: "training",
    TaskStatus.SUCCEEDED.value: "trained",
    TaskStatus.FAILED.value: "failed",
    TaskStatus.CANCELLED.value: "failed",
}


@dataclass(frozen=True)
class ModelState:
    """A model's training state as seen through its task."""

    state: str  # created | training | trained | failed
    progress: float
    task_status: str | None
    error: str | None


@dataclass(frozen=True)
class VoiceModel:
    id: str
    owner: str | None
    title: str
    description: str
    visibility: str
    tags: list[str]
    languages: list[str]
    train_mode: str
    task_id: str | None
    created_at: float
    status: ModelState
    updated_at: float = 0.0  # the last edit, or the last change of its training task
    cover_key: str | None = None
    author_name: str = ""  # the name of the owner's API key, when it has one


@dataclass(frozen=True)
class VoiceQuery:
    """Which voice models a listing shows, and which page of them."""

    page_size: int = 10
    page_number: int = 1  # from 1
    title: str | None = None  # a part of the title, any case
    tags: tuple[str, ...] = ()  # models carrying every one of these tags
    languages: tuple[str, ...] = ()  # models speaking any of these languages ("en" matches "en-US")
    self_only: bool = False  # only the caller's own models, not others' public ones
    author_id: str | None = None
    sort_by: str = "created_at"  # created_at | task_count (uses are not counted: newest first)


@dataclass(frozen=True)
class AvatarModel:
    id: str
    owner: str | None
    name: str
    task_id: str | None
    created_at: float
    status: ModelState
    source_hash: str | None = None  # content of the training video
    video_s: float | None = None  # seconds of training video


def _state(task: TaskRow | None) -> ModelState:
    if task is None:
        return ModelState("created", 0.0, None, None)
    return ModelState(_STATE[task.status], task.progress, task.status, task.error_message)


class Catalog:
    """Creates, lists, reads and deletes voice and avatar model records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # Voice models -------------------------------------------------------
    def create_voice(self, owner: str | None, title: str, **fields: Any) -> VoiceModel:
        row = VoiceModelRow(id=uuid.uuid4().hex, owner=owner, title=title, created_at=time.time(), **fields)
        with self.db.transaction() as s:
            s.add(row)
        return self.voice(row.id, owner)

    def set_voice_task(self, model_id: str, task_id: str) -> None:
        with self.db.transaction() as s:
            s.get(VoiceModelRow, model_id).task_id = task_id

    def set_voice_languages(self, model_id: str, languages: list[str]) -> None:
        with self.db.transaction() as s:
            s.get(VoiceModelRow, model_id).languages = languages

    def voice(self, model_id: str, owner: str | None) -> VoiceModel:
        with self.db.transaction() as s:
            row = s.get(VoiceModelRow, model_id)
            # Unlisted models are usable by anyone who knows the id, but not listed.
            if row is None or not (row.owner == owner or row.visibility in ("public", "unlist")):
                raise NotFound(f"voice model {model_id!r} does not exist.")
            return self._voice(s, row)

    def voices(self, owner: str | None) -> list[VoiceModel]:
        with self.db.transaction() as s:
            rows = s.scalars(select(VoiceModelRow).order_by(VoiceModelRow.created_at.desc()))
            return [self._voice(s, r) for r in rows if r.owner == owner or r.visibility == "public"]

    def voice_page(self, owner: str | None, query: VoiceQuery) -> tuple[int, list[VoiceModel]]:
        """How many models match ``query`` among those ``owner`` may list, and the asked page of them."""
        title = (query.title or "").strip().casefold()
        tags = set(query.tags)
        languages = {lang.split("-")[0].lower() for lang in query.languages}
        with self.db.transaction() as s:
            rows = s.scalars(select(VoiceModelRow).order_by(VoiceModelRow.created_at.desc()))
            matching = [
                r for r in rows
                if (r.owner == owner or (r.visibility == "public" and not query.self_only))
                and (query.author_id is None or r.owner == query.author_id)
                and title in r.title.casefold()
                and tags <= set(r.tags or [])
                and (not languages or languages & {lang.split("-")[0].lower() for lang in r.languages or []})
            ]
            start = (query.page_number - 1) * query.page_size
            return len(matching), [self._voice(s, r) for r in matching[start:start + query.page_size]]

    def update_voice(self, model_id: str, owner: str | None, **fields: Any) -> VoiceModel:
        """Change the title, description, tags, visibility or cover of ``owner``'s model."""
        with self.db.transaction() as s:
            row = s.get(VoiceModelRow, model_id)
            if row is None or row.owner != owner:
                raise NotFound(f"voice model {model_id!r} does not exist.")
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = time.time()
        return self.voice(model_id, owner)

    def count_voices(self, owner: str | None) -> int:
        """How many voice models ``owner`` keeps, for quotas."""
        with self.db.transaction() as s:
            return int(s.scalar(select(func.count()).select_from(VoiceModelRow).where(VoiceModelRow.owner == owner)))

    def count_avatars(self, owner: str | None) -> int:
        """How many avatar models ``owner`` keeps, for quotas."""
        with self.db.transaction() as s:
            return int(s.scalar(select(func.count()).select_from(AvatarModelRow).where(AvatarModelRow.owner == owner)))

    def delete_voice(self, model_id: str, owner: str | None) -> None:
        model = self.voice(model_id, owner)
        if model.owner != owner:
            raise NotFound(f"voice model {model_id!r} does not exist.")
        with self.db.transaction() as s:
            s.execute(delete(VoiceModelRow).where(VoiceModelRow.id == model_id))

    @staticmethod
    def _voice(s: Any, row: VoiceModelRow) -> VoiceModel:
        task = s.get(TaskRow, row.task_id) if row.task_id else None
        key = s.get(ApiKeyRow, row.owner) if row.owner else None
        updated = max(row.updated_at or row.created_at, task.updated_at if task else 0.0)
        return VoiceModel(
            row.id, row.owner, row.title, row.description, row.visibility, list(row.tags or []),
            list(row.languages or []), row.train_mode, row.task_id, row.created_at, _state(task),
            updated, row.cover_key, key.name if key else "",
        )

    # Avatar models ------------------------------------------------------
    def create_avatar(self, owner: str | None, name: str, model_id: str | None = None, *,
                      source_hash: str | None = None, video_s: float | None = None) -> AvatarModel:
        row = AvatarModelRow(id=model_id or uuid.uuid4().hex, owner=owner, name=name, created_at=time.time(),
                             source_hash=source_hash, video_s=video_s)
        with self.db.transaction() as s:
            s.add(row)
        return self.avatar(row.id, owner)

    def avatar_of_video(self, owner: str | None, source_hash: str) -> AvatarModel | None:
        """``owner``'s avatar model trained (or training) from this video content, newest first; a
        failed one only when there is no other."""
        with self.db.transaction() as s:
            rows = s.scalars(select(AvatarModelRow).where(AvatarModelRow.owner == owner,
                                                          AvatarModelRow.source_hash == source_hash)
                             .order_by(AvatarModelRow.created_at.desc()))
            models = [self._avatar(s, r) for r in rows]
        models.sort(key=lambda m: m.status.state == "failed")  # stable: newest first within each
        return models[0] if models else None

    def avatars(self, owner: str | None) -> list[AvatarModel]:
        """``owner``'s avatar models, newest first."""
        with self.db.transaction() as s:
            rows = s.scalars(select(AvatarModelRow).where(AvatarModelRow.owner == owner)
                             .order_by(AvatarModelRow.created_at.desc()))
            return [self._avatar(s, r) for r in rows]

    def delete_avatar(self, model_id: str, owner: str | None) -> None:
        self.avatar(model_id, owner)  # 404 unless it is the owner's
        with self.db.transaction() as s:
            s.execute(delete(AvatarModelRow).where(AvatarModelRow.id == model_id))

    def set_avatar_task(self, model_id: str, task_id: str) -> None:
        with self.db.transaction() as s:
            s.get(AvatarModelRow, model_id).task_id = task_id

    def avatar(self, model_id: str, owner: str | None) -> AvatarModel:
        with self.db.transaction() as s:
            row = s.get(AvatarModelRow, model_id)
            if row is None or row.owner != owner:
                raise NotFound(f"avatar model {model_id!r} does not exist.")
            return self._avatar(s, row)

    @staticmethod
    def _avatar(s: Any, row: AvatarModelRow) -> AvatarModel:
        task = s.get(TaskRow, row.task_id) if row.task_id else None
        return AvatarModel(row.id, row.owner, row.name, row.task_id, row.created_at, _state(task),
                           row.source_hash, row.video_s)

