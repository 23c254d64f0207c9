"""Batch events and the delivery rows they become.

`record_batch_event` runs inside the transaction that moves a batch to its terminal status
(finalize's last compare-and-set, or validation failing), so a delivery exists exactly when
the transition committed: none is lost to a crash after the commit, and none is sent for a
transition that rolled back.
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.kit.ids import new_event_id
from batchgate.models import BatchStatus, DeliveryState, WebhookDelivery
from batchgate.webhooks.repository import DeliveryRepository, EndpointRepository

_BY_STATUS = {
    BatchStatus.completed: "batch.completed",
    BatchStatus.failed: "batch.failed",
    BatchStatus.expired: "batch.expired",
    BatchStatus.cancelled: "batch.cancelled",
}


def payload(event_id: str, event_type: str, created_at: int, batch_id: str) -> str:
    """OpenAI's event body: `{"id", "type", "created_at", "data": {"id"}, "object": "event"}`."""
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created_at": created_at,
            "data": {"id": batch_id},
            "object": "event",
        },
        separators=(",", ":"),
    )


async def record_batch_event(
    session: AsyncSession, *, tenant_id: str, batch_id: str, status: BatchStatus, at: int
) -> int:
    """Queue the event for `batch_id` reaching `status` (at unix time `at`) to every endpoint
    of the tenant subscribed to it; returns how many deliveries were queued."""
    event_type = _BY_STATUS[status]
    endpoint_ids = await EndpointRepository(session).subscribed(tenant_id, event_type)
    if not endpoint_ids:
        return 0
    event_id = new_event_id()
    body = payload(event_id, event_type, at, batch_id)
    DeliveryRepository(session).add_all(
        [
            WebhookDelivery(
                event_id=event_id,
                event_type=event_type,
                endpoint_id=endpoint_id,
                batch_id=batch_id,
                payload=body,
                created_at=at,
                state=DeliveryState.pending,
                attempts=0,
                next_attempt_at_ms=0,
            )
            for endpoint_id in endpoint_ids
        ]
    )
    return len(endpoint_ids)
