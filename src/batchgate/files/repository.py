"""Queries on files. Every read is scoped to a tenant and skips deleted or expired rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.models import Batch, StoredFile
from batchgate.models.batch import TERMINAL_STATUSES


def _live(now: int) -> ColumnElement[bool]:
    return and_(
        StoredFile.deleted_at.is_(None),
        or_(StoredFile.expires_at.is_(None), StoredFile.expires_at > now),
    )


class FileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: StoredFile) -> None:
        self.session.add(row)

    async def get_live(self, tenant_id: str, file_id: str, now: int) -> StoredFile | None:
        return await self.session.scalar(
            select(StoredFile).where(
                StoredFile.id == file_id, StoredFile.tenant_id == tenant_id, _live(now)
            )
        )

    async def list_live(
        self,
        tenant_id: str,
        now: int,
        *,
        after: str | None,
        limit: int,
        descending: bool,
        purpose: str | None,
    ) -> Sequence[StoredFile]:
        query = select(StoredFile).where(StoredFile.tenant_id == tenant_id, _live(now))
        if purpose is not None:
            query = query.where(StoredFile.purpose == purpose)
        if after is not None:
            # ids are time-ordered, so "after this id" is a plain comparison in either order
            query = query.where(StoredFile.id < after if descending else StoredFile.id > after)
        order = StoredFile.id.desc() if descending else StoredFile.id.asc()
        return (await self.session.scalars(query.order_by(order).limit(limit))).all()

    async def mark_deleted(self, file_id: str, now: int) -> None:
        await self.session.execute(
            update(StoredFile).where(StoredFile.id == file_id).values(deleted_at=now)
        )

    async def purgeable(self, now: int, limit: int = 100) -> Sequence[StoredFile]:
        """Deleted or expired files whose bytes are still stored and no open batch reads."""
        in_use = exists().where(
            Batch.input_file_id == StoredFile.id, Batch.status.not_in(TERMINAL_STATUSES)
        )
        query = select(StoredFile).where(
            StoredFile.storage_key.is_not(None),
            or_(StoredFile.deleted_at.is_not(None), StoredFile.expires_at <= now),
            ~in_use,
        )
        return (await self.session.scalars(query.limit(limit))).all()

    async def is_input_of_open_batch(self, file_id: str) -> bool:
        found = await self.session.scalar(
            select(Batch.id)
            .where(Batch.input_file_id == file_id, Batch.status.not_in(TERMINAL_STATUSES))
            .limit(1)
        )
        return found is not None

    async def forget_storage(self, file_id: str) -> None:
        await self.session.execute(
            update(StoredFile).where(StoredFile.id == file_id).values(storage_key=None)
        )
