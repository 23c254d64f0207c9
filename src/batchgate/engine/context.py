"""What every engine step needs, built once per process."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.queue.base import JobQueue
from batchgate.runtime import Runtime
from batchgate.upstream import RetryPolicy, Router, UpstreamClient


@dataclass(frozen=True)
class EngineConfig:
    max_batch_lines: int = 50_000
    lease_seconds: float = 30.0
    claim_batch_size: int = 256
    reconcile_interval_seconds: float = 5.0
    #: how often an idle executor looks for work nobody woke it for
    poll_interval_seconds: float = 0.5
    #: how long results may wait before they are written (one transaction per flush)
    flush_interval_seconds: float = 0.05
    #: validation errors listed on a failed batch (the scan stops there)
    max_validation_errors: int = 100
    #: seconds a draining worker waits for in-flight requests before releasing them
    drain_seconds: float = 30.0


@dataclass
class EngineContext:
    runtime: Runtime
    router: Router
    client: UpstreamClient
    retry: RetryPolicy
    config: EngineConfig
    #: runs jobs in this process; the reconciler uses it so recovery never needs Redis
    local_jobs: JobQueue
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()[:40]}-{secrets.token_hex(4)}"
    )
    #: set when this process made work claimable (validation finished), to skip a poll delay
    work_available: asyncio.Event = field(default_factory=asyncio.Event)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.transaction() as session:
            yield session
