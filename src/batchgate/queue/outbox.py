"""Jobs deferred until the transaction that asked for them has committed.

A job enqueued before its commit could run before its row is visible, and one enqueued in a
transaction that then rolls back would run for nothing. The pending list rides on the session.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.queue.base import Job, JobQueue

_KEY = "batchgate.outbox"


def defer(session: AsyncSession, job: Job, batch_id: str) -> None:
    session.info.setdefault(_KEY, []).append((job, batch_id))


async def flush(session: AsyncSession, queue: JobQueue) -> None:
    pending: list[tuple[Job, str]] = session.info.pop(_KEY, [])
    for job, batch_id in dict.fromkeys(pending):
        await queue.enqueue(job, batch_id)
