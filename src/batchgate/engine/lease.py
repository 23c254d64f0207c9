"""Batch-level leases for the validate and finalize phases, kept alive by a heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection

from batchgate.engine.context import EngineContext
from batchgate.engine.repository import EngineRepository
from batchgate.kit.clock import now_ms

log = logging.getLogger(__name__)


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
            try:
                async with ctx.transaction() as session:
                    await EngineRepository(session).extend_batch_lease(
                        batch_id, ctx.worker_id, now_ms() + lease_ms
                    )
            except Exception:  # keep trying: a lapsed lease lets a second worker in
                log.exception("renewing the lease on batch %s failed", batch_id)

    heartbeat = asyncio.create_task(renew())
    try:
        yield True
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        async with ctx.transaction() as session:
            await EngineRepository(session).release_batch_lease(batch_id, ctx.worker_id)
