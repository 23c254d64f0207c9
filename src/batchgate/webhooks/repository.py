"""Queries on webhook endpoints (scoped to a tenant) and on deliveries (claimed under leases)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from batchgate.webhooks.signing import valid_secrets


class EndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: WebhookEndpoint) -> None:
        self.session.add(row)

    async def get(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return await self.session.scalar(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id
            )
        )

    async def list_newest_first(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> Sequence[WebhookEndpoint]:
        query = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
        if after is not None:
            query = query.where(WebhookEndpoint.id < after)  # ids are time-ordered
        order = WebhookEndpoint.id.desc()
        return (await self.session.scalars(query.order_by(order).limit(limit))).all()

    async def subscribed(self, tenant_id: str, event_type: str) -> list[str]:
        """Ids of the tenant's endpoints that want `event_type`.

        FOR SHARE (PostgreSQL): an endpoint deleted concurrently goes either before this
        transaction (and gets nothing) or after it (and its new deliveries go with it).
        """
        rows = await self.session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.id)
            .with_for_update(read=True)
        )
        return [endpoint_id for endpoint_id, types in rows.tuples() if event_type in types]

    async def delete(self, endpoint_id: str) -> None:
        """The endpoint and, by cascade, its deliveries (pending ones are dropped)."""
        await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    token: int
    event_id: str
    event_type: str
    batch_id: str
    endpoint_id: str
    payload: str
    created_at: int
    #: attempts so far, this one included
    attempts: int
    url: str
    #: the endpoint's current secret, plus the previous one while it is still honoured
    secrets: tuple[str, ...]


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_all(self, rows: Sequence[WebhookDelivery]) -> None:
        self.session.add_all(rows)

    async def claim(
        self, owner: str, token: int, limit: int, now_ms: int, until_ms: int
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due deliveries: pending ones whose time has come, and ones a
        sender leased but never finished (its lease, kept in `next_attempt_at_ms`, ran out).
        SKIP LOCKED lets every worker claim side by side."""
        due = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.state.in_([DeliveryState.pending, DeliveryState.sending]),
                WebhookDelivery.next_attempt_at_ms <= now_ms,
            )
            .order_by(WebhookDelivery.next_attempt_at_ms)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(due.scalar_subquery()))
            .values(
                state=DeliveryState.sending,
                lease_owner=owner,
                lease_token=token,
                next_attempt_at_ms=until_ms,
                attempts=WebhookDelivery.attempts + 1,
            )
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        ids = list(claimed.scalars())
        if not ids:
            return []
        rows = await self.session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.event_id,
                WebhookDelivery.event_type,
                WebhookDelivery.batch_id,
                WebhookDelivery.endpoint_id,
                WebhookDelivery.payload,
                WebhookDelivery.created_at,
                WebhookDelivery.attempts,
                WebhookEndpoint.url,
                WebhookEndpoint.signing_secret,
                WebhookEndpoint.previous_secret,
                WebhookEndpoint.previous_secret_expires_at,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id.in_(ids))
            .order_by(WebhookDelivery.id)
        )
        now_s = now_ms // 1000
        found = []
        for (
            delivery_id,
            event_id,
            event_type,
            batch_id,
            endpoint_id,
            body,
            created_at,
            attempts,
            url,
            secret,
            previous,
            previous_until,
        ) in rows.tuples():
            found.append(
                ClaimedDelivery(
                    delivery_id,
                    token,
                    event_id,
                    event_type,
                    batch_id,
                    endpoint_id,
                    body,
                    created_at,
                    attempts,
                    url,
                    valid_secrets(secret, previous, previous_until, now_s),
                )
            )
        return found

    async def record(self, delivery_id: int, token: int, values: dict[str, Any]) -> bool:
        """Write an attempt's outcome, only while this sender's lease still holds."""
        result = await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.state == DeliveryState.sending,
                WebhookDelivery.lease_token == token,
            )
            .values(lease_owner=None, lease_token=None, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
