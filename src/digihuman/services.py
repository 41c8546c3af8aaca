"""The long-lived objects a process needs, built from Settings in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from digihuman.catalog import Catalog
from digihuman.config import Settings
from digihuman.database import Database
from digihuman.engines import Engines, build_engines
from digihuman.keys import KeyStore
from digihuman.media.intake import Intake
from digihuman.storage import Storage, open_storage
from digihuman.tasks.callbacks import CallbackStore
from digihuman.tasks.kinds import GROUPS, engines_for
from digihuman.tasks.queue import TaskQueue
from digihuman.tasks.store import TaskStore


class Services:
    """Database, queue, storage and engines of one process (API server or worker)."""

    def __init__(
        self, settings: Settings, runner: Callable[[str], None] | None = None, engines: Engines | None = None,
        groups: Sequence[str] = GROUPS,
    ) -> None:
        self.settings = settings
        self.groups = tuple(groups)  # worker groups served here: their queues are read, their engines built
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.resolved_database_url)
        self.tasks = TaskStore(self.db)
        self.callbacks = CallbackStore(self.db)
        self.catalog = Catalog(self.db)
        self.keys = KeyStore(self.db, settings.api_keys)
        self.storage: Storage = open_storage(settings)
        self.intake = Intake(self.storage, settings)
        self.queue = TaskQueue(settings, runner, self.groups)
        self._engines = engines  # given: used as is; else built from settings on first use

    @property
    def engines(self) -> Engines:
        """Built on first use and kept: models load once per process."""
        if self._engines is None:
            self._engines = build_engines(self.settings, engines_for(self.groups))
        return self._engines
