"""`/v1/batches`: thin handlers over `batches.service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from batchgate.batches import service
from batchgate.batches.schemas import BatchCreate, BatchObject
from batchgate.http.deps import RuntimeDep, SessionDep, TenantDep
from batchgate.http.pagination import ListResponse, page

router = APIRouter(prefix="/batches", tags=["batches"])


@router.post("", response_model=BatchObject)
async def create_batch(
    params: BatchCreate, runtime: RuntimeDep, session: SessionDep, tenant: TenantDep
) -> BatchObject:
    """Create a batch from an uploaded `purpose=batch` file; it starts in `validating`."""
    batch = await service.create(session, tenant, params, runtime.settings.window_seconds())
    return BatchObject.of(batch)


@router.get("", response_model=ListResponse[BatchObject])
async def list_batches(
    session: SessionDep,
    tenant: TenantDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListResponse[BatchObject]:
    rows = await service.list_batches(session, tenant, after=after, limit=limit)
    return page([BatchObject.of(r) for r in rows], limit=limit, ids=[r.id for r in rows])


@router.get("/{batch_id}", response_model=BatchObject)
async def retrieve_batch(batch_id: str, session: SessionDep, tenant: TenantDep) -> BatchObject:
    return BatchObject.of(await service.get(session, tenant, batch_id))


@router.post("/{batch_id}/cancel", response_model=BatchObject)
async def cancel_batch(batch_id: str, session: SessionDep, tenant: TenantDep) -> BatchObject:
    """Stop a batch: lines never sent end as `batch_cancelled`; finished ones are kept."""
    return BatchObject.of(await service.cancel(session, tenant, batch_id))
