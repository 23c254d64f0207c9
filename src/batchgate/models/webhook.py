"""Webhook endpoints a tenant registered, and the deliveries of events to them.

The signing secret is stored as it is handed out (`whsec_<base64>`): signing needs the secret
itself, so unlike an API key it cannot be kept only as a digest. It is never logged and the API
returns it only when it is created or rotated.
"""

from __future__ import annotations

import enum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from batchgate.db.base import Base


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(Text)
    #: the event types delivered to this endpoint (e.g. ["batch.completed", "batch.failed"])
    event_types: Mapped[list[str]] = mapped_column(JSON)
    #: `whsec_<base64>`; sensitive: never logged, returned only on create and rotate
    signing_secret: Mapped[str] = mapped_column(String(128))
    #: after a rotation that keeps the old secret valid, deliveries carry both signatures
    previous_secret: Mapped[str | None] = mapped_column(String(128), default=None)
    previous_secret_expires_at: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(Integer)


class DeliveryState(enum.StrEnum):
    #: waiting for its first attempt or for the next retry (at `next_attempt_at_ms`)
    pending = "pending"
    #: claimed by a sender; while sending, `next_attempt_at_ms` is the lease's expiry, so a
    #: sender that dies leaves a row that falls due again when its lease runs out
    sending = "sending"
    #: the endpoint answered 2xx
    delivered = "delivered"
    #: retries ran out (`BATCHGATE_WEBHOOK_MAX_AGE_SECONDS` after the event)
    failed = "failed"


class WebhookDelivery(Base):
    """One event for one endpoint. Rows are created in the transaction that ends the batch."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at_ms"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    #: `evt_…`, the same for every endpoint the event goes to; sent as `webhook-id`
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[str] = mapped_column(String(64))
    #: the exact JSON body, fixed when the event happened so every attempt sends equal bytes
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Integer)

    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_token: Mapped[int | None] = mapped_column(BigInteger, default=None)

    last_attempt_at: Mapped[int | None] = mapped_column(Integer, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[int | None] = mapped_column(Integer, default=None)
