"""The schema as it stood when migrations began: tasks, API keys, voice and avatar models, callbacks,
webhook secrets, task stage times.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Databases made before migrations existed already hold some or all of these tables (made by
``create_all``, perhaps before later columns existed). This revision therefore creates only what is
missing: absent tables, absent nullable columns, absent indexes, so such a database is adopted with
its rows and leaves at this revision like a new one. The tables are copied here, not imported from
the models, so that this revision means the same thing after the models change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

schema = sa.MetaData()

sa.Table(
    "tasks", schema,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(32), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("stage", sa.String(200), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("timeout_s", sa.Float, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("worker", sa.String(120), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True, index=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("files_purged", sa.Boolean, nullable=False),
    sa.Index("ix_tasks_owner_status", "owner", "status"),
)
sa.Table(
    "api_keys", schema,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Table(
    "voice_models", schema,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(32), nullable=True, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("languages", sa.JSON, nullable=False),
    sa.Column("train_mode", sa.String(16), nullable=False),
    sa.Column("task_id", sa.String(32), nullable=True),
    sa.Column("cover_key", sa.String(512), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=True),
)
sa.Table(
    "avatar_models", schema,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(32), nullable=True, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("task_id", sa.String(32), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("source_hash", sa.String(64), nullable=True, index=True),
    sa.Column("video_s", sa.Float, nullable=True),
)
sa.Table(
    "callbacks", schema,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("task_id", sa.String(32), nullable=False, index=True),
    sa.Column("owner", sa.String(32), nullable=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("attempts", sa.JSON, nullable=False),
    sa.Column("next_at", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_callbacks_state_next", "state", "next_at"),
)
sa.Table(
    "webhook_secrets", schema,
    sa.Column("owner", sa.String(32), primary_key=True),
    sa.Column("secret", sa.String(80), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Table(
    "task_stage_times", schema,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(32), nullable=False, index=True),
    sa.Column("owner", sa.String(32), nullable=True, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("stage", sa.String(60), nullable=False),
    sa.Column("wall_s", sa.Float, nullable=False),
    sa.Column("cpu_s", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_task_stage_times_kind_stage", "kind", "stage"),
)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    for table in schema.sorted_tables:
        if table.name not in present:
            table.create(bind)
            continue
        # A table made by an older create_all: add what it lacks, keep its rows.
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns and column.nullable:
                op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(schema.sorted_tables):
        table.drop(bind, checkfirst=True)
