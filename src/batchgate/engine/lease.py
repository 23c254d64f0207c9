"""Batch-level leases for the validate and finalize phases, kept alive by a heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection

from batchgate.engine.context import EngineContext
from batchgate.engine.repository import EngineRepository
from batchgate.kit.clock import now_ms


class LeaseLost(Exception):
    """Another worker took over the batch while this one was working on it."""


@contextlib.asynccontextmanager
async def batch_lease(
    ctx: EngineContext, batch_id: str, statuses: Collection[str]
) -> AsyncIterator[bool]:
    """Yield True while this worker holds the batch (False: someone else does, or the
    status moved on). The lease is renewed every third of its length until the block exits."""
    lease_ms = int(ctx.config.lease_seconds * 1000)
    async with ctx.transaction() as session:
        now = now_ms()
        held = await EngineRepository(session).take_batch_lease(
            batch_id, ctx.worker_id, now, now + lease_ms, statuses
        )
    if not held:
        yield False
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(ctx.config.lease_seconds / 3)
            async with ctx.transaction() as session:
                await EngineRepository(session).extend_batch_lease(
                    batch_id, ctx.worker_id, now_ms() + lease_ms
                )

    heartbeat = asyncio.create_task(renew())
    try:
        yield True
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        async with ctx.transaction() as session:
            await EngineRepository(session).release_batch_lease(batch_id, ctx.worker_id)
