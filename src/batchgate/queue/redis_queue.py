"""The server stack's queue: arq on Redis, used only as a doorbell.

Job messages are JSON (arq's default is pickle, which would let anyone who can write to Redis
run code in the workers). Deterministic job ids merge duplicate wake-ups. If Redis is down
or flushed, enqueueing fails quietly: the batch is already committed and a worker's
reconciler finds it within seconds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from batchgate.queue.base import Job

log = logging.getLogger(__name__)

QUEUE_NAME = "batchgate:queue"


def serialize(data: dict[str, Any]) -> bytes:
    return json.dumps(data, default=str).encode()


def deserialize(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 1
    return settings


class RedisQueue:
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: ArqRedis | None = None

    async def pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                redis_settings(self.url),
                job_serializer=serialize,
                job_deserializer=deserialize,
                default_queue_name=QUEUE_NAME,
            )
        return self._pool

    async def enqueue(self, job: Job, batch_id: str) -> None:
        try:
            pool = await self.pool()
            await pool.enqueue_job(job.value, batch_id, _job_id=f"{job.value}:{batch_id}")
        except Exception as exc:  # a doorbell that fails must not fail the request
            log.warning(
                "could not enqueue %s for %s (%s); the reconciler will pick it up",
                job,
                batch_id,
                exc,
            )

    async def check(self) -> None:
        await (await self.pool()).ping()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
