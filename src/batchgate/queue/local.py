"""Jobs as asyncio tasks in this process: the embedded default's queue, and the worker's own
runner for work its reconciler finds (which must not depend on Redis).

Requests for a job that is already running are merged into one re-run after it ends, so no
wake-up is lost and no job runs twice at once for the same batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from batchgate.queue.base import Job

log = logging.getLogger(__name__)

Runner = Callable[[Job, str], Awaitable[None]]


class LocalQueue:
    def __init__(self) -> None:
        self._runner: Runner | None = None
        self._running: set[tuple[Job, str]] = set()
        self._again: set[tuple[Job, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def bind(self, runner: Runner) -> None:
        """Attach the engine; until then, requests are dropped (the reconciler re-finds them)."""
        self._runner = runner

    async def enqueue(self, job: Job, batch_id: str) -> None:
        key = (job, batch_id)
        if self._runner is None:
            return
        if key in self._running:
            self._again.add(key)
            return
        self._running.add(key)
        task = asyncio.create_task(self._run(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: tuple[Job, str]) -> None:
        assert self._runner is not None
        try:
            while True:
                self._again.discard(key)
                try:
                    await self._runner(*key)
                except Exception:
                    log.exception("job %s for %s failed; the reconciler will retry it", *key)
                if key not in self._again:
                    return
        finally:
            self._running.discard(key)

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
