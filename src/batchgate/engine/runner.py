"""Starting and stopping the engine in a process: the executor, the reconciler, the webhook
delivery loop and the in-process job runner. `batchgate serve` (embedded) and
`batchgate worker` both use this."""

from __future__ import annotations

import asyncio
import functools
import logging

from batchgate.engine.context import EngineConfig, EngineContext
from batchgate.engine.executor import Executor
from batchgate.engine.jobs import run_job
from batchgate.engine.reconciler import run_reconciler
from batchgate.queue.local import LocalQueue
from batchgate.runtime import Runtime
from batchgate.settings import Settings
from batchgate.upstream import RetryPolicy, Router, UpstreamClient, load_router
from batchgate.webhooks.delivery import DeliveryConfig, WebhookDeliveries

log = logging.getLogger(__name__)


def engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        max_batch_lines=settings.max_batch_lines,
        lease_seconds=settings.lease_seconds,
        claim_batch_size=settings.claim_batch_size,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
    )


def load_configured_router(settings: Settings) -> Router:
    """Raises ConfigurationError for a bad routes file: better at start than per batch."""
    return load_router(
        default_url=settings.upstream_url,
        default_api_key=(
            settings.upstream_api_key.get_secret_value() if settings.upstream_api_key else None
        ),
        routes_file=settings.routes_file,
        default_timeout_seconds=settings.upstream_timeout_seconds,
        default_max_concurrency=settings.upstream_max_concurrency,
    )


def build_context(runtime: Runtime, local_jobs: LocalQueue) -> EngineContext:
    settings = runtime.settings
    router = load_configured_router(settings)
    retry = RetryPolicy(
        max_attempts=settings.max_attempts,
        base_seconds=settings.retry_base_seconds,
        max_seconds=settings.retry_max_seconds,
    )
    ctx = EngineContext(
        runtime=runtime,
        router=router,
        client=UpstreamClient(),
        retry=retry,
        config=engine_config(settings),
        local_jobs=local_jobs,
    )
    local_jobs.bind(functools.partial(run_job, ctx))
    return ctx


class EngineRunner:
    def __init__(self, ctx: EngineContext, local_jobs: LocalQueue) -> None:
        self.ctx = ctx
        self.local_jobs = local_jobs
        self.executor = Executor(ctx)
        self.webhooks = WebhookDeliveries(
            ctx.runtime, DeliveryConfig.of(ctx.runtime.settings), ctx.worker_id
        )
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.ctx.client.start()
        self._tasks = [
            asyncio.create_task(self.executor.run(), name="executor"),
            asyncio.create_task(run_reconciler(self.ctx, self._stopping), name="reconciler"),
            asyncio.create_task(self.webhooks.run(self._stopping), name="webhooks"),
        ]
        log.info("engine started (worker %s)", self.ctx.worker_id)

    async def stop(self) -> None:
        """Stop claiming, let in-flight requests finish (up to the drain time), release the rest."""
        self._stopping.set()
        self.executor.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.local_jobs.close()
        await self.ctx.client.close()
        log.info("engine stopped")
