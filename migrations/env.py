"""Alembic environment: async engines, SQLite-safe batch mode, URL from batchgate settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from batchgate.db.engine import create_engine, is_sqlite
from batchgate.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from batchgate.settings import load_settings

    return load_settings().resolved_database_url


def _configure(connection: Connection | None, url: str) -> None:
    context.configure(
        connection=connection,
        url=None if connection is not None else url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead
        render_as_batch=is_sqlite(url),
        compare_type=True,
    )


def run_offline() -> None:
    url = _database_url()
    _configure(None, url)
    with context.begin_transaction():
        context.run_migrations()


# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK = 0x62617463  # "batc"


def _run_sync(connection: Connection, url: str) -> None:
    _configure(connection, url)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # API replicas and workers may all migrate on start: one at a time
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        context.run_migrations()


async def run_online() -> None:
    url = _database_url()
    engine = create_engine(url, pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync, url)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
