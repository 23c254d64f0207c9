"""The webhook endpoint object and its request bodies, in the `openai` SDK's shapes
(`types/webhooks/webhook_endpoint*.py`, `client.webhooks.create/update/…`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from batchgate.models import WebhookEndpoint
from batchgate.webhooks.signing import hint


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    #: omitted: every batch event
    event_types: list[str] | None = None
    name: str | None = None


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    event_types: list[str] | None = None
    name: str | None = None


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_old_secret_active_for_24_hours: bool = False


class EndpointTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str


class EndpointObject(BaseModel):
    """What list, retrieve and update return: never the secret, only a hint of it."""

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    created_at: int
    updated_at: int | None
    event_types: list[str]
    name: str
    url: str
    signing_secret_hint: str | None

    @classmethod
    def of(cls, row: WebhookEndpoint) -> EndpointObject:
        return cls(
            id=row.id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            event_types=list(row.event_types),
            name=row.name,
            url=row.url,
            signing_secret_hint=hint(row.signing_secret),
        )


class EndpointWithSecret(EndpointObject):
    """What create and rotate_secret return: the only place the secret is ever shown."""

    signing_secret: str

    @classmethod
    def of(cls, row: WebhookEndpoint) -> EndpointWithSecret:
        shown = EndpointObject.of(row).model_dump()
        return cls(**shown, signing_secret=row.signing_secret)


class EndpointDeleted(BaseModel):
    id: str
    object: Literal["webhook_endpoint.deleted"] = "webhook_endpoint.deleted"
    deleted: bool = True


class EndpointTestResult(BaseModel):
    event_type: str
    object: Literal["webhook_endpoint.test"] = "webhook_endpoint.test"
    status_code: int
    success: Literal[True] = True
    webhook_endpoint_id: str


class EventTypeList(BaseModel):
    object: Literal["list"] = "list"
    data: list[str]
