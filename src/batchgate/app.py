"""The ASGI application: `create_app(settings)` and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from batchgate import __version__, api, health, ui
from batchgate.auth.service import ensure_bootstrap_keys
from batchgate.engine.runner import EngineRunner, build_context
from batchgate.http import exception_handlers
from batchgate.http.request_id import RequestIdMiddleware
from batchgate.observability import endpoint as metrics_endpoint
from batchgate.queue.base import JobQueue
from batchgate.queue.local import LocalQueue
from batchgate.queue.redis_queue import RedisQueue
from batchgate.runtime import Runtime, build_database, build_storage
from batchgate.settings import Settings

log = logging.getLogger(__name__)


def build_runtime(settings: Settings, queue: JobQueue) -> Runtime:
    db, sessionmaker = build_database(settings)
    return Runtime(
        settings=settings,
        db=db,
        sessionmaker=sessionmaker,
        storage=build_storage(settings),
        queue=queue,
    )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        local = LocalQueue()
        queue: JobQueue = local if settings.embedded else RedisQueue(settings.redis_url or "")
        runtime = build_runtime(settings, queue)
        await ensure_bootstrap_keys(
            runtime.sessionmaker, [key.get_secret_value() for key in settings.api_keys]
        )
        runner = EngineRunner(build_context(runtime, local), local) if settings.embedded else None
        if runner is not None:
            await runner.start()
        app.state.runtime = runtime
        log.info(
            "batchgate %s ready (%s)",
            __version__,
            "embedded" if settings.embedded else "server stack",
        )
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
            await queue.close()
            await runtime.db.dispose()

    app = FastAPI(
        title="batchgate",
        version=__version__,
        summary="A self-hosted, OpenAI-compatible Batch API.",
        lifespan=lifespan,
    )
    exception_handlers.install(app)
    app.include_router(api.router)
    app.include_router(health.router)
    app.include_router(metrics_endpoint.router)
    app.include_router(ui.router)
    app.add_middleware(RequestIdMiddleware)
    return app
