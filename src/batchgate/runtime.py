"""The long-lived objects a process needs, built once from `Settings` and closed at exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from batchgate.db.engine import create_engine, create_sessionmaker
from batchgate.db.session import session_scope
from batchgate.queue import outbox
from batchgate.queue.base import JobQueue
from batchgate.settings import Settings
from batchgate.storage import Storage, storage_from_url


@dataclass
class Runtime:
    settings: Settings
    db: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    queue: JobQueue

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on error; deferred jobs are enqueued after the commit."""
        async with session_scope(self.sessionmaker) as session:
            yield session
        await outbox.flush(session, self.queue)


def build_storage(settings: Settings) -> Storage:
    return storage_from_url(settings.resolved_storage_url)


def build_database(settings: Settings) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.resolved_database_url)
    return engine, create_sessionmaker(engine)
