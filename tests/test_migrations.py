"""Migrations run up from an empty database on SQLite and PostgreSQL, and can run again."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from batchgate.models import Base
from support.procs import BATCHGATE, base_env
from support.services import postgres_database


def tables_in(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(read())


def migrate(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = base_env(BATCHGATE_DATABASE_URL=url, BATCHGATE_DATA_DIR=tmp_path)
    return subprocess.run(
        [*BATCHGATE, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrate_from_empty_and_again(backend: str, tmp_path: Path) -> None:
    def run(url: str) -> None:
        first = migrate(url, tmp_path)
        assert first.returncode == 0, first.stderr
        assert set(Base.metadata.tables) <= tables_in(url)
        assert "alembic_version" in tables_in(url)
        again = migrate(url, tmp_path)  # idempotent: nothing to do the second time
        assert again.returncode == 0, again.stderr
        assert "latest schema" in again.stdout

    if backend == "sqlite":
        run(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    else:
        with postgres_database() as url:
            run(url)


def test_server_refuses_a_stale_schema(tmp_path: Path) -> None:
    with postgres_database() as url:  # never migrated, and migrating on start is off
        env = base_env(
            BATCHGATE_DATABASE_URL=url,
            BATCHGATE_DATA_DIR=tmp_path,
            BATCHGATE_MIGRATE_ON_START="false",
        )
        started = subprocess.run(
            [*BATCHGATE, "serve", "--port", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert started.returncode == 2
    assert "run `batchgate migrate`" in started.stderr
    assert "Traceback" not in started.stderr
