"""Per-run PostgreSQL databases and Redis databases. Missing services skip locally, fail in CI."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_HOST = os.environ.get("BATCHGATE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BATCHGATE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("BATCHGATE_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("BATCHGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not available ({type(exc).__name__}: {exc})"
    if in_ci():
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named database; dropped afterwards."""
    import asyncio

    import asyncpg

    name = f"batchgate_test_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
        )
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"PostgreSQL at {PG_HOST}:{PG_PORT}", exc)
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis URL on a numbered database nobody else in this run uses, flushed before and after."""
    import redis

    index = 1 + secrets.randbelow(15)
    url = f"{REDIS_URL}/{index}"
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        client.flushdb()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL}", exc)
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
