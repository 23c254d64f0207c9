"""The queue protocol and the jobs it can wake."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Protocol


class Job(enum.StrEnum):
    #: stream the input file, check every line, create line rows
    validate_batch = "validate_batch"
    #: write output and error files for a batch whose lines are all done (or cancelled/expired)
    finalize_batch = "finalize_batch"


JobHandler = Callable[[str], Awaitable[None]]


class JobQueue(Protocol):
    async def enqueue(self, job: Job, batch_id: str) -> None:
        """Ask for `job` to run on `batch_id` soon. Duplicate requests may be merged."""
        ...

    async def check(self) -> None:
        """Raise if the queue is unreachable (readiness probe)."""
        ...

    async def close(self) -> None: ...
