"""`/v1/webhook_endpoints` and `/v1/webhook_event_types`: thin handlers over `webhooks.service`.

The paths and shapes are the `openai` SDK's (`client.webhooks.create / list / retrieve /
update / delete / rotate_secret / test`, `client.webhooks.event_types.list`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from batchgate.http.deps import RuntimeDep, SessionDep, TenantDep
from batchgate.http.pagination import ListResponse, page
from batchgate.webhooks import service
from batchgate.webhooks.event_types import BATCH_EVENT_TYPES
from batchgate.webhooks.schemas import (
    EndpointCreate,
    EndpointDeleted,
    EndpointObject,
    EndpointTest,
    EndpointTestResult,
    EndpointUpdate,
    EndpointWithSecret,
    EventTypeList,
    RotateSecret,
)

router = APIRouter(prefix="/webhook_endpoints", tags=["webhooks"])
event_types_router = APIRouter(prefix="/webhook_event_types", tags=["webhooks"])


@router.post("", response_model=EndpointWithSecret)
async def create_endpoint(
    params: EndpointCreate, session: SessionDep, tenant: TenantDep
) -> EndpointWithSecret:
    """Register a URL for batch events (all four unless `event_types` narrows them). The
    response carries the signing secret; it is not shown again (rotate it to get a new one)."""
    return EndpointWithSecret.of(await service.create(session, tenant, params))


@router.get("", response_model=ListResponse[EndpointObject])
async def list_endpoints(
    session: SessionDep,
    tenant: TenantDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListResponse[EndpointObject]:
    rows = await service.list_endpoints(session, tenant, after=after, limit=limit)
    return page([EndpointObject.of(r) for r in rows], limit=limit, ids=[r.id for r in rows])


@router.get("/{endpoint_id}", response_model=EndpointObject)
async def retrieve_endpoint(
    endpoint_id: str, session: SessionDep, tenant: TenantDep
) -> EndpointObject:
    return EndpointObject.of(await service.get(session, tenant, endpoint_id))


@router.post("/{endpoint_id}", response_model=EndpointObject)
async def update_endpoint(
    endpoint_id: str, params: EndpointUpdate, session: SessionDep, tenant: TenantDep
) -> EndpointObject:
    return EndpointObject.of(await service.update(session, tenant, endpoint_id, params))


@router.delete("/{endpoint_id}", response_model=EndpointDeleted)
async def delete_endpoint(
    endpoint_id: str, session: SessionDep, tenant: TenantDep
) -> EndpointDeleted:
    await service.delete(session, tenant, endpoint_id)
    return EndpointDeleted(id=endpoint_id)


@router.post("/{endpoint_id}/rotate_secret", response_model=EndpointWithSecret)
async def rotate_secret(
    endpoint_id: str,
    session: SessionDep,
    tenant: TenantDep,
    params: Annotated[RotateSecret | None, Body()] = None,
) -> EndpointWithSecret:
    keep_old = params is not None and params.keep_old_secret_active_for_24_hours
    row = await service.rotate_secret(session, tenant, endpoint_id, keep_old=keep_old)
    return EndpointWithSecret.of(row)


@router.post("/{endpoint_id}/test", response_model=EndpointTestResult)
async def test_endpoint(
    endpoint_id: str,
    params: EndpointTest,
    runtime: RuntimeDep,
    session: SessionDep,
    tenant: TenantDep,
) -> EndpointTestResult:
    """Send a signed sample event now and report the HTTP status the endpoint answered."""
    row = await service.get(session, tenant, endpoint_id)
    # End the (read-only) transaction before waiting on someone else's server: on SQLite it
    # holds the database's write lock.
    await session.commit()
    status = await service.send_test(
        row, params.event_type, runtime.settings.webhook_timeout_seconds
    )
    return EndpointTestResult(
        event_type=params.event_type, status_code=status, webhook_endpoint_id=endpoint_id
    )


@event_types_router.get("", response_model=EventTypeList)
async def list_event_types(tenant: TenantDep) -> EventTypeList:
    return EventTypeList(data=list(BATCH_EVENT_TYPES))
