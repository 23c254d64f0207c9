"""The `finalize_batch` job: end a batch and write its output and error files.

It ends three ways: every line done (`finalizing` -> `completed`), a cancel once in-flight
lines have finished (`cancelling` -> `cancelled`), or the deadline (-> `expired`). Unfinished
lines become `batch_cancelled` / `batch_expired` error lines.

Idempotent: files go to keys derived from the batch id (a re-run overwrites them with the
same bytes), and the file rows are inserted in the same transaction as the final
compare-and-set on status, so a second run that loses the race commits nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from batchgate.engine.context import EngineContext
from batchgate.engine.lease import batch_lease
from batchgate.engine.output import render
from batchgate.engine.repository import EngineRepository, FinishedLine
from batchgate.kit.clock import now_ms, now_s
from batchgate.kit.ids import new_file_id
from batchgate.models import Batch, BatchStatus, FilePurpose, LineState, StoredFile
from batchgate.storage import Storage, StorageWriter
from batchgate.webhooks.events import record_batch_event

log = logging.getLogger(__name__)

# rows per read: a page of answers is a few MB at most, and each page is a round trip
_PAGE = 5000
DEFAULT_OUTPUT_TTL = 30 * 86400
_ENDABLE = (BatchStatus.in_progress, BatchStatus.finalizing, BatchStatus.cancelling)


class _LostRace(Exception):
    """Someone else finished this batch first; roll back our file rows."""


@dataclass
class _Sink:
    key: str
    bytes: int = 0
    writer: StorageWriter | None = None
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)


async def finalize_batch(ctx: EngineContext, batch_id: str) -> None:
    async with batch_lease(ctx, batch_id, _ENDABLE) as held:
        if not held:
            return
        ending = await _prepare(ctx, batch_id)
        if ending is None:
            return
        batch, final_status = ending
        output, errors = await _write_files(ctx, batch)
        try:
            await _commit(ctx, batch, final_status, output, errors)
        except _LostRace:
            log.info("batch %s was finalized elsewhere", batch_id, extra={"batch_id": batch_id})


async def _prepare(ctx: EngineContext, batch_id: str) -> tuple[Batch, BatchStatus] | None:
    """Decide how the batch ends (or that it does not end yet) and close its open lines."""
    async with ctx.transaction() as session:
        repo = EngineRepository(session)
        batch = await repo.get_batch(batch_id)
        if batch is None or batch.status not in _ENDABLE:
            return None
        if batch.status == BatchStatus.cancelling:
            # in-flight lines finish first (the last result wakes us again), but not past the
            # deadline: a worker that never answers must not hold the batch forever
            if now_s() < batch.expires_at and await repo.has_running_lines(batch_id, now_ms()):
                return None
            await repo.close_open_lines(batch_id, LineState.cancelled)
            return batch, BatchStatus.cancelled
        if batch.status == BatchStatus.in_progress:
            # every line done just before the deadline is a completed batch, not an expired one
            if await repo.open_line_count(batch_id):
                if now_s() < batch.expires_at:
                    return None
                await repo.close_open_lines(batch_id, LineState.expired)
                return batch, BatchStatus.expired
            await repo.transition(
                batch_id,
                ctx.worker_id,
                [BatchStatus.in_progress],
                {"status": BatchStatus.finalizing, "finalizing_at": now_s()},
            )
        return batch, BatchStatus.completed


async def _write_files(ctx: EngineContext, batch: Batch) -> tuple[_Sink, _Sink]:
    """Stream every line, in line order, into the output and error files (each opened only
    when its first line arrives, so an empty one is never created)."""
    storage = ctx.runtime.storage
    output = _Sink(f"batches/{batch.id}/output.jsonl")
    errors = _Sink(f"batches/{batch.id}/errors.jsonl")
    async with output.stack, errors.stack:
        # the next page is read while this one is rendered and written
        fetch = asyncio.create_task(_page(ctx, batch.id, 0))
        try:
            while rows := await fetch:
                fetch = asyncio.create_task(_page(ctx, batch.id, rows[-1].line_no))
                await asyncio.sleep(0)  # let it send its query before the CPU-bound render
                page: dict[bool, list[bytes]] = {True: [], False: []}
                for row in rows:
                    to_output, line = render(batch.id, row)
                    page[to_output].append(line)
                for sink, lines in ((output, page[True]), (errors, page[False])):
                    if lines:
                        await _write(storage, sink, b"".join(lines))
        finally:
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
    return output, errors


async def _page(ctx: EngineContext, batch_id: str, after: int) -> list[FinishedLine]:
    async with ctx.transaction() as session:
        return await EngineRepository(session).finished_lines(batch_id, after, _PAGE)


async def _write(storage: Storage, sink: _Sink, data: bytes) -> None:
    if sink.writer is None:  # opened on its first line, so an empty file is never created
        sink.writer = await sink.stack.enter_async_context(storage.open_writer(sink.key))
    await sink.writer.write(data)
    sink.bytes += len(data)


async def _commit(
    ctx: EngineContext, batch: Batch, final_status: BatchStatus, output: _Sink, errors: _Sink
) -> None:
    now = now_s()
    ttl = batch.output_expires_after or DEFAULT_OUTPUT_TTL
    file_ids: dict[str, str | None] = {"output_file_id": None, "error_file_id": None}
    async with ctx.transaction() as session:
        for column, sink, name in (
            ("output_file_id", output, "output"),
            ("error_file_id", errors, "error"),
        ):
            if sink.writer is None:
                continue
            file_id = new_file_id()
            session.add(
                StoredFile(
                    id=file_id,
                    tenant_id=batch.tenant_id,
                    purpose=FilePurpose.batch_output,
                    filename=f"{batch.id}_{name}.jsonl",
                    bytes=sink.bytes,
                    storage_key=sink.key,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            file_ids[column] = file_id
        stamp = {
            BatchStatus.completed: "completed_at",
            BatchStatus.cancelled: "cancelled_at",
            BatchStatus.expired: "expired_at",
        }[final_status]
        ended = await EngineRepository(session).transition(
            batch.id,
            ctx.worker_id,
            [BatchStatus.finalizing, BatchStatus.cancelling, BatchStatus.in_progress],
            {"status": final_status, stamp: now, **file_ids},
        )
        if not ended:
            raise _LostRace
        # in this transaction: the event exists exactly when the batch's end committed
        await record_batch_event(
            session, tenant_id=batch.tenant_id, batch_id=batch.id, status=final_status, at=now
        )
    log.info("batch %s %s", batch.id, final_status.value, extra={"batch_id": batch.id})
