"""Smoke tests for the private Redis/PostgreSQL fixtures in tests/services.py."""

import pytest
import redis
from sqlalchemy import create_engine, text


@pytest.mark.redis
def test_redis_set_get(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        assert client.dbsize() == 0  # redis_url flushed everything before this test
        client.set("digihuman:probe", "hello")
        assert client.get("digihuman:probe") == b"hello"
    finally:
        client.close()


@pytest.mark.postgres
def test_postgres_roundtrip(postgres_url: str) -> None:
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE probe (id serial PRIMARY KEY, name text NOT NULL)"))
            conn.execute(text("INSERT INTO probe (name) VALUES (:n)"), {"n": "hello"})
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM probe")).scalars().all() == ["hello"]
    finally:
        engine.dispose()
