"""Batches as the API sees them: create (then validate asynchronously), list, get, cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.batches.repository import BatchRepository
from batchgate.batches.schemas import SUPPORTED_ENDPOINTS, BatchCreate
from batchgate.errors import BatchNotCancellable, BatchNotFound, InvalidRequest
from batchgate.files.repository import FileRepository
from batchgate.files.service import parse_expires_after
from batchgate.kit.clock import now_s
from batchgate.kit.ids import new_batch_id
from batchgate.models import Batch, BatchStatus, FilePurpose
from batchgate.queue import outbox
from batchgate.queue.base import Job

MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512
CANCELLABLE = (BatchStatus.validating, BatchStatus.in_progress)


def _check_metadata(metadata: Mapping[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequest(
            f"Invalid 'metadata': at most {MAX_METADATA_PAIRS} key-value pairs are allowed, "
            f"got {len(metadata)}.",
            param="metadata",
        )
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(
                f"Invalid 'metadata': key '{key[:20]}…' is longer than {MAX_METADATA_KEY} "
                "characters.",
                param="metadata",
            )
        if len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"Invalid 'metadata': the value of '{key}' is longer than {MAX_METADATA_VALUE} "
                "characters.",
                param="metadata",
            )


async def create(
    session: AsyncSession, tenant_id: str, params: BatchCreate, windows: Mapping[str, int]
) -> Batch:
    """Record a batch in `validating` and ask a worker to validate it."""
    if params.endpoint not in SUPPORTED_ENDPOINTS:
        raise InvalidRequest(
            f"Invalid value for 'endpoint': '{params.endpoint}'. Supported values are: "
            f"{', '.join(SUPPORTED_ENDPOINTS)}.",
            param="endpoint",
        )
    if params.completion_window not in windows:
        raise InvalidRequest(
            f"Invalid value for 'completion_window': '{params.completion_window}'. Supported "
            f"values are: {', '.join(windows)}.",
            param="completion_window",
        )
    _check_metadata(params.metadata)
    output_ttl = None
    if params.output_expires_after is not None:
        output_ttl = parse_expires_after(
            params.output_expires_after.anchor,
            params.output_expires_after.seconds,
            "output_expires_after",
        )
    now = now_s()
    input_file = await FileRepository(session).get_live(tenant_id, params.input_file_id, now)
    if input_file is None:
        raise InvalidRequest(
            f"Invalid 'input_file_id': no such File object: {params.input_file_id}",
            param="input_file_id",
        )
    if input_file.purpose != FilePurpose.batch:
        raise InvalidRequest(
            f"Invalid 'input_file_id': file {input_file.id} has purpose '{input_file.purpose}'; "
            "batch input files must be uploaded with purpose 'batch'.",
            param="input_file_id",
        )
    batch = Batch(
        id=new_batch_id(),
        tenant_id=tenant_id,
        endpoint=params.endpoint,
        input_file_id=input_file.id,
        completion_window=params.completion_window,
        status=BatchStatus.validating,
        metadata_=dict(params.metadata) if params.metadata is not None else None,
        output_expires_after=output_ttl,
        created_at=now,
        expires_at=now + windows[params.completion_window],
    )
    BatchRepository(session).add(batch)
    await session.flush()
    outbox.defer(session, Job.validate_batch, batch.id)
    return batch


async def get(session: AsyncSession, tenant_id: str, batch_id: str) -> Batch:
    batch = await BatchRepository(session).get(tenant_id, batch_id)
    if batch is None:
        raise BatchNotFound(batch_id)
    return batch


async def list_batches(
    session: AsyncSession, tenant_id: str, *, after: str | None, limit: int
) -> Sequence[Batch]:
    """Newest first; up to `limit + 1`, so the caller can tell whether more exist."""
    return await BatchRepository(session).list_newest_first(tenant_id, after=after, limit=limit + 1)


async def cancel(session: AsyncSession, tenant_id: str, batch_id: str) -> Batch:
    """validating / in_progress -> cancelling; the engine finishes the job.

    Cancelling a batch that is already cancelling is a no-op; any later status is an error.
    """
    batch = await get(session, tenant_id, batch_id)
    repo = BatchRepository(session)
    changed = await repo.transition(
        batch_id,
        from_statuses=CANCELLABLE,
        values={"status": BatchStatus.cancelling, "cancelling_at": now_s()},
    )
    batch = await repo.refresh(batch)
    if changed:
        outbox.defer(session, Job.finalize_batch, batch_id)
    elif batch.status != BatchStatus.cancelling:
        raise BatchNotCancellable(
            f"Cannot cancel batch {batch_id}: its status is '{batch.status}'."
        )
    return batch
