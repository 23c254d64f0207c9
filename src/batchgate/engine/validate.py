"""The `validate_batch` job: stream the input file once, check every line, create line rows.

Idempotent: a re-run (after a crash, or a duplicate wake-up) starts by deleting the rows a
previous attempt inserted. Rows go in chunks, each its own short transaction; the batch flips
to `in_progress` (or `failed`) only at the end, in one compare-and-set.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from batchgate.batches.schemas import error_entry
from batchgate.engine.context import EngineContext
from batchgate.engine.lease import batch_lease
from batchgate.engine.lines import LineProblem, check_line, shown
from batchgate.engine.repository import EngineRepository
from batchgate.files.jsonl_scan import LineSplitter
from batchgate.kit.clock import now_s
from batchgate.models import Batch, BatchStatus, LineState
from batchgate.queue.base import Job
from batchgate.webhooks.events import record_batch_event

log = logging.getLogger(__name__)

_INSERT_CHUNK = 5000
_PENDING = LineState.pending.value
_VALIDATABLE = (BatchStatus.validating, BatchStatus.cancelling)


@dataclass
class _Scan:
    """What one pass over the input file found."""

    endpoint: str
    max_lines: int
    max_errors: int
    model: str | None = None
    model_line: int = 0
    count: int = 0
    seen: set[bytes] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: rows in LINE_COLUMNS order, ready for COPY
    pending_rows: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return len(self.errors) >= self.max_errors

    def error(self, problem: LineProblem, line: int | None) -> None:
        self.errors.append(
            error_entry(problem.code, problem.message, param=problem.param, line=line)
        )

    def take_rows(self) -> list[tuple[Any, ...]]:
        """The rows to insert so far (none once any error is known: the batch will fail)."""
        rows, self.pending_rows = self.pending_rows, []
        return [] if self.errors else rows

    def take(self, batch_id: str, line_no: int, offset: int, raw: bytes) -> None:
        self.count += 1
        if self.count > self.max_lines:
            self.error(
                LineProblem(
                    "too_many_requests",
                    f"The input file has more than the maximum of {self.max_lines} requests.",
                ),
                line_no,
            )
            return
        checked = check_line(raw, self.endpoint)
        if isinstance(checked, LineProblem):
            self.error(checked, line_no)
            return
        # a digest, not the id: the set stays ~16 bytes a line whatever the ids look like
        digest = hashlib.blake2b(checked.custom_id.encode(), digest_size=16).digest()
        if digest in self.seen:
            self.error(
                LineProblem(
                    "duplicate_custom_id",
                    f"The custom_id '{shown(checked.custom_id)}' for this request is a "
                    "duplicate of another request. The custom_id parameter must be unique for "
                    "each request in a batch.",
                    "custom_id",
                ),
                line_no,
            )
            return
        self.seen.add(digest)
        if self.model is None:
            self.model, self.model_line = checked.model, line_no
        elif checked.model != self.model:
            self.error(
                LineProblem(
                    "mismatched_model",
                    f"The model '{shown(checked.model)}' for this request does not match the "
                    f"rest of the batch ('{shown(self.model or '')}'). Each batch must contain "
                    "requests for a single model.",
                    "body.model",
                ),
                line_no,
            )
            return
        if not self.errors:
            self.pending_rows.append(
                (batch_id, line_no, checked.custom_id, offset, len(raw), _PENDING, 0, 0)
            )


async def validate_batch(ctx: EngineContext, batch_id: str) -> None:
    async with batch_lease(ctx, batch_id, _VALIDATABLE) as held:
        if not held:
            return
        cancelled = await _validate(ctx, batch_id)
    if cancelled:
        # only now, with our lease released, can finalize turn the lines into batch_cancelled
        await ctx.runtime.queue.enqueue(Job.finalize_batch, batch_id)


async def _validate(ctx: EngineContext, batch_id: str) -> bool:
    """Scan and conclude; True when the batch was cancelled while being validated."""
    async with ctx.transaction() as session:
        repo = EngineRepository(session)
        batch = await repo.get_batch(batch_id)
        assert batch is not None
        if now_s() >= batch.expires_at:
            # however often validation failed, the window bounds it: the batch ends
            await repo.delete_lines(batch_id)
            await repo.transition(
                batch_id,
                ctx.worker_id,
                [BatchStatus.validating],
                {"status": BatchStatus.expired, "expired_at": now_s()},
            )
            return batch.status == BatchStatus.cancelling
        input_key = await repo.input_key(batch.input_file_id)
        await repo.delete_lines(batch_id)
    if input_key is None:
        scan = _Scan(batch.endpoint, 0, 1)
        scan.error(LineProblem("file_not_found", "The input file was deleted."), None)
    else:
        scan = await _scan(ctx, batch, input_key)
    return await _conclude(ctx, batch, scan)


async def _scan(ctx: EngineContext, batch: Batch, input_key: str) -> _Scan:
    cfg = ctx.config
    scan = _Scan(batch.endpoint, cfg.max_batch_lines, cfg.max_validation_errors)
    # Inserts run in the background while the scan goes on: the database and the JSON parsing
    # overlap instead of taking turns. Parsing is the cheaper of the two (COPY costs PostgreSQL
    # ~7 us a row with the table's indexes), so on PostgreSQL two COPYs run side by side, each
    # on its own connection; SQLite has one writer anyway.
    parallel = 2 if ctx.runtime.db.dialect.name == "postgresql" else 1
    inserting: deque[asyncio.Task[None]] = deque()
    splitter = LineSplitter()
    try:
        # chunk by chunk, each chunk's lines in a plain loop: an async iterator per line costs
        # as much as checking the line
        async for chunk in _and_end(ctx.runtime.storage.read(input_key)):
            lines = splitter.close() if chunk is None else splitter.feed(chunk)
            for line_no, offset, raw in lines:
                if raw.strip():
                    scan.take(batch.id, line_no, offset, raw)
                if scan.full:
                    break
            if scan.full:
                break
            if len(scan.pending_rows) >= _INSERT_CHUNK or (chunk is None and scan.pending_rows):
                if len(inserting) >= parallel:
                    await inserting.popleft()
                inserting.append(asyncio.create_task(_insert(ctx, scan.take_rows())))
    finally:
        # every insert is awaited, even after a failure: none may outlive the lease
        results = await asyncio.gather(*inserting, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    if scan.count == 0 and not scan.errors:
        scan.error(LineProblem("empty_file", "The input file contains no requests."), None)
    if scan.model is not None and not scan.errors and ctx.router.resolve(scan.model) is None:
        scan.error(
            LineProblem(
                "model_not_found",
                f"No upstream is configured for model '{shown(scan.model)}'.",
                "body.model",
            ),
            scan.model_line,
        )
    return scan


async def _and_end(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes | None]:
    """The chunks, then None to say the stream ended (the last line may lack its newline)."""
    async for chunk in chunks:
        yield chunk
    yield None


async def _insert(ctx: EngineContext, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        async with ctx.transaction() as session:
            await EngineRepository(session).insert_lines(rows)


async def _conclude(ctx: EngineContext, batch: Batch, scan: _Scan) -> bool:
    now = now_s()
    async with ctx.transaction() as session:
        repo = EngineRepository(session)
        if scan.errors:
            await repo.delete_lines(batch.id)
            failed = await repo.transition(
                batch.id,
                ctx.worker_id,
                _VALIDATABLE,
                {"status": BatchStatus.failed, "failed_at": now, "errors": scan.errors},
            )
            if failed:
                await record_batch_event(
                    session,
                    tenant_id=batch.tenant_id,
                    batch_id=batch.id,
                    status=BatchStatus.failed,
                    at=now,
                )
                log.info(
                    "batch %s failed validation (%d errors)",
                    batch.id,
                    len(scan.errors),
                    extra={"batch_id": batch.id},
                )
            return False
        await repo.transition(
            batch.id, ctx.worker_id, _VALIDATABLE, {"total": scan.count, "model": scan.model}
        )
        started = await repo.transition(
            batch.id,
            ctx.worker_id,
            [BatchStatus.validating],
            {"status": BatchStatus.in_progress, "in_progress_at": now},
        )
    if started:
        async with ctx.transaction() as session:
            await EngineRepository(session).refresh_line_statistics()
        log.info(
            "batch %s validated: %d requests for %s",
            batch.id,
            scan.count,
            scan.model,
            extra={"batch_id": batch.id},
        )
        ctx.work_available.set()
    return not started
