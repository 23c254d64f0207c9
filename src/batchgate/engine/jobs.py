"""The job table: what each queue message runs. Both queues dispatch through it."""

from __future__ import annotations

from batchgate.engine.context import EngineContext
from batchgate.engine.finalize import finalize_batch
from batchgate.engine.validate import validate_batch
from batchgate.queue.base import Job


async def run_job(ctx: EngineContext, job: Job, batch_id: str) -> None:
    if job is Job.validate_batch:
        await validate_batch(ctx, batch_id)
    else:
        await finalize_batch(ctx, batch_id)
