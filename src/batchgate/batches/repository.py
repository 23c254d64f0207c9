"""Queries on batches that the API performs (the engine has its own, in `engine.repository`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.models import Batch


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Batch) -> None:
        self.session.add(row)

    async def get(self, tenant_id: str, batch_id: str) -> Batch | None:
        return await self.session.scalar(
            select(Batch).where(Batch.id == batch_id, Batch.tenant_id == tenant_id)
        )

    async def list_newest_first(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[Batch]:
        query = select(Batch).where(Batch.tenant_id == tenant_id)
        if after is not None:
            query = query.where(Batch.id < after)  # ids are time-ordered
        return (await self.session.scalars(query.order_by(Batch.id.desc()).limit(limit))).all()

    async def transition(
        self, batch_id: str, *, from_statuses: Collection[str], values: dict[str, Any]
    ) -> bool:
        """Compare-and-set on status: True if this call made the change."""
        result = await self.session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.status.in_(list(from_statuses)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def refresh(self, row: Batch) -> Batch:
        await self.session.refresh(row)
        return row
