"""The reconciler: finds work that nobody holds and wakes a job for it.

This is what makes the queue a mere doorbell. Every few seconds, in every worker process:
expired line leases go back to `pending`; batches stuck in a phase nobody holds (a lost
wake-up, a crashed worker, a Redis flush) get their job enqueued again; deadlines that passed
get their batch expired; deleted and expired files get purged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from batchgate.engine.context import EngineContext
from batchgate.engine.repository import EngineRepository
from batchgate.files.service import purge_expired
from batchgate.kit.clock import now_ms, now_s
from batchgate.models import BatchStatus
from batchgate.queue.base import Job

log = logging.getLogger(__name__)


async def reconcile_once(ctx: EngineContext) -> None:
    async with ctx.transaction() as session:
        repo = EngineRepository(session)
        released = await repo.release_expired_leases(now_ms())
        attention = await repo.batches_needing_attention(now_s(), now_ms())
    if released:
        log.warning("%d lines had expired leases (a worker died?); they will be re-sent", released)
        ctx.work_available.set()
    for batch_id, status in attention:
        job = Job.validate_batch if status == BatchStatus.validating else Job.finalize_batch
        await ctx.local_jobs.enqueue(job, batch_id)
    async with ctx.transaction() as session:
        await purge_expired(session, ctx.runtime.storage)


async def run_reconciler(ctx: EngineContext, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await reconcile_once(ctx)
        except Exception:
            log.exception("reconcile pass failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), ctx.config.reconcile_interval_seconds)
