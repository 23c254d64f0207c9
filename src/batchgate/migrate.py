"""Schema migrations: Alembic `upgrade head`, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from batchgate.errors import ConfigurationError

# The repository keeps migrations/ beside src/ (editable installs and the Docker image both
# ship the whole tree).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_async(database_url: str) -> None:
    # env.py runs its own event loop, so it needs a thread of its own
    await asyncio.to_thread(upgrade, database_url)


async def prepare_database(database_url: str, *, migrate: bool) -> None:
    """Migrate if asked, then make sure the schema is current (before any process starts)."""
    from batchgate.db.engine import create_engine

    if migrate:
        await upgrade_async(database_url)
    engine = create_engine(database_url, pool_size=1)
    try:
        await check_schema(engine)
    finally:
        await engine.dispose()


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse to start on a database that is not at the latest schema, with the fix in words."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    async with engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    if current != head:
        raise ConfigurationError(
            f"the database schema is at {current or 'nothing'}, not {head}: "
            "run `batchgate migrate` "
            "(or set BATCHGATE_MIGRATE_ON_START=true)"
        )
