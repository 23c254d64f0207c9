"""`batchgate worker`: the engine plus an arq consumer, in one process.

The executor and the reconciler are driven by the database; arq only delivers the
validate/finalize doorbells. If Redis goes away the worker keeps executing and reconciling,
and reconnects to the queue when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from arq.worker import Worker, func
from prometheus_client import start_http_server

from batchgate.app import build_runtime
from batchgate.engine.context import EngineContext
from batchgate.engine.jobs import run_job
from batchgate.engine.runner import EngineRunner, build_context
from batchgate.errors import ConfigurationError
from batchgate.migrate import prepare_database
from batchgate.queue.base import Job
from batchgate.queue.local import LocalQueue
from batchgate.queue.redis_queue import (
    QUEUE_NAME,
    RedisQueue,
    deserialize,
    redis_settings,
    serialize,
)
from batchgate.settings import Settings

log = logging.getLogger(__name__)

#: arq re-runs a job lost to SIGKILL only after its timeout; our reconciler does not wait for
#: that (it works from batch leases), so this only bounds a stuck job
_JOB_TIMEOUT_S = 3600
_REDIS_RETRY_S = 2.0


async def _job(ctx: dict[str, Any], batch_id: str, *, job: Job) -> None:
    engine: EngineContext = ctx["engine"]
    await run_job(engine, job, batch_id)


async def validate_batch(ctx: dict[str, Any], batch_id: str) -> None:
    await _job(ctx, batch_id, job=Job.validate_batch)


async def finalize_batch(ctx: dict[str, Any], batch_id: str) -> None:
    await _job(ctx, batch_id, job=Job.finalize_batch)


def _arq_worker(settings: Settings, engine: EngineContext) -> Worker:
    functions = [
        func(
            validate_batch,
            name=Job.validate_batch.value,
            keep_result=0,
            max_tries=5,
            timeout=_JOB_TIMEOUT_S,
        ),
        func(
            finalize_batch,
            name=Job.finalize_batch.value,
            keep_result=0,
            max_tries=5,
            timeout=_JOB_TIMEOUT_S,
        ),
    ]
    return Worker(
        functions=functions,
        queue_name=QUEUE_NAME,
        redis_settings=redis_settings(settings.redis_url or ""),
        ctx={"engine": engine},
        handle_signals=False,
        keep_result=0,
        max_jobs=8,
        # arq polls rather than blocks: this is how long a validate or finalize job may wait
        # to start, twice in every batch's life; a poll is one cheap Redis call
        poll_delay=0.05,
        job_serializer=serialize,
        job_deserializer=deserialize,
        health_check_interval=30,
    )


async def _consume(settings: Settings, engine: EngineContext, stopping: asyncio.Event) -> None:
    """Run arq until asked to stop, restarting it whenever Redis drops the connection."""
    while not stopping.is_set():
        worker = _arq_worker(settings, engine)
        try:
            await worker.async_run()
        except asyncio.CancelledError:
            if stopping.is_set():
                return
            raise
        except Exception as exc:
            log.warning("queue consumer stopped (%s); reconnecting in %.0fs", exc, _REDIS_RETRY_S)
        finally:
            with contextlib.suppress(Exception):
                await worker.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), _REDIS_RETRY_S)


async def run_worker(settings: Settings) -> None:
    if settings.redis_url is None:
        raise ConfigurationError("batchgate worker needs BATCHGATE_REDIS_URL")
    queue = RedisQueue(settings.redis_url)
    runtime = build_runtime(settings, queue)
    await prepare_database(settings.resolved_database_url, migrate=settings.should_migrate_on_start)
    local = LocalQueue()
    engine = build_context(runtime, local)
    runner = EngineRunner(engine, local)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if settings.worker_metrics_port is not None:
        start_http_server(settings.worker_metrics_port)
    await runner.start()
    consumer = asyncio.create_task(_consume(settings, engine, stopping))
    log.info("worker %s consuming %s", engine.worker_id, QUEUE_NAME)
    try:
        await stopping.wait()
        log.info("worker %s draining", engine.worker_id)
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await runner.stop()
        await queue.close()
        await runtime.db.dispose()
