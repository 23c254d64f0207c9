"""Engine and session factories for SQLite (embedded default) and PostgreSQL (server stack)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for `url`, with the SQLite settings that make concurrent use safe.

    `hide_parameters`: a failed statement's error (and so a logged traceback) never shows the
    values bound to it, such as a webhook signing secret being inserted."""
    if not is_sqlite(url):
        # No pre-ping: it costs a round trip per transaction on the hot path. A connection that
        # died with a server restart fails its statement instead; SQLAlchemy then discards the
        # pool and every engine loop retries.
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            hide_parameters=True,
        )
    sqlite_path = make_url(url).database
    if sqlite_path and sqlite_path != ":memory:":
        from pathlib import Path

        Path(sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 60}, hide_parameters=True)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL + busy timeout, and every transaction `BEGIN IMMEDIATE`.

    A deferred SQLite transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between (the busy handler is not consulted for
    that upgrade). Taking the write lock at BEGIN makes transactions queue instead; they are
    all short.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
