"""Webhook endpoints as the API sees them: create, list, get, update, delete, rotate, test."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.errors import InvalidRequest, WebhookEndpointNotFound
from batchgate.kit.clock import now_s
from batchgate.kit.ids import new_event_id, new_webhook_endpoint_id
from batchgate.models import WebhookEndpoint
from batchgate.webhooks import sender
from batchgate.webhooks.event_types import BATCH_EVENT_TYPES
from batchgate.webhooks.events import payload
from batchgate.webhooks.repository import EndpointRepository
from batchgate.webhooks.schemas import EndpointCreate, EndpointUpdate
from batchgate.webhooks.signing import new_secret, valid_secrets

MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 200
#: how long the old secret still signs after `rotate_secret(keep_old_secret_active_for_24_hours)`
KEEP_OLD_SECRET_SECONDS = 86400
#: the batch id a test event carries
TEST_BATCH_ID = "batch_test"


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it."""

    def bad(reason: str) -> InvalidRequest:
        return InvalidRequest(f"Invalid 'url': {reason}", param="url", code="invalid_url")

    if len(url) > MAX_URL_LENGTH:
        raise bad(f"the URL is longer than {MAX_URL_LENGTH} characters.")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise bad("the URL contains whitespace or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise bad("not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise bad("the URL must start with http:// or https://.")
    if not parts.hostname:
        raise bad("the URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise bad(
            "the URL must not contain a user name or password; every delivery is signed "
            "instead (verify the webhook-signature header)."
        )
    return url


def check_event_types(event_types: Sequence[str]) -> list[str]:
    unknown = [t for t in event_types if t not in BATCH_EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"Invalid value for 'event_types': '{unknown[0]}'. Supported values are: "
            f"{', '.join(BATCH_EVENT_TYPES)}.",
            param="event_types",
            code="invalid_value",
        )
    if not event_types:
        raise InvalidRequest(
            "Invalid 'event_types': name at least one event type, or leave it out for all "
            f"of {', '.join(BATCH_EVENT_TYPES)}.",
            param="event_types",
            code="invalid_value",
        )
    return list(dict.fromkeys(event_types))


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"Invalid 'name': at most {MAX_NAME_LENGTH} characters.", param="name")
    return name


async def create(session: AsyncSession, tenant_id: str, params: EndpointCreate) -> WebhookEndpoint:
    url = check_url(params.url)
    types = check_event_types(
        BATCH_EVENT_TYPES if params.event_types is None else params.event_types
    )
    now = now_s()
    row = WebhookEndpoint(
        id=new_webhook_endpoint_id(),
        tenant_id=tenant_id,
        name=check_name(params.name or ""),
        url=url,
        event_types=types,
        signing_secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    EndpointRepository(session).add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    row = await EndpointRepository(session).get(tenant_id, endpoint_id)
    if row is None:
        raise WebhookEndpointNotFound(endpoint_id)
    return row


async def list_endpoints(
    session: AsyncSession, tenant_id: str, *, after: str | None, limit: int
) -> Sequence[WebhookEndpoint]:
    """Newest first; up to `limit + 1`, so the caller can tell whether more exist."""
    return await EndpointRepository(session).list_newest_first(
        tenant_id, after=after, limit=limit + 1
    )


async def update(
    session: AsyncSession, tenant_id: str, endpoint_id: str, params: EndpointUpdate
) -> WebhookEndpoint:
    """Change what was given; `updated_at` moves only if something actually changed."""
    row = await get(session, tenant_id, endpoint_id)
    changes: dict[str, object] = {}
    if params.url is not None:
        changes["url"] = check_url(params.url)
    if params.event_types is not None:
        changes["event_types"] = check_event_types(params.event_types)
    if params.name is not None:
        changes["name"] = check_name(params.name)
    changed = {key: value for key, value in changes.items() if getattr(row, key) != value}
    if changed:
        for key, value in changed.items():
            setattr(row, key, value)
        row.updated_at = now_s()
        await session.flush()
    return row


async def delete(session: AsyncSession, tenant_id: str, endpoint_id: str) -> None:
    """Deliveries still pending for the endpoint are dropped with it."""
    await get(session, tenant_id, endpoint_id)
    await EndpointRepository(session).delete(endpoint_id)


async def rotate_secret(
    session: AsyncSession, tenant_id: str, endpoint_id: str, *, keep_old: bool
) -> WebhookEndpoint:
    """A new secret; with `keep_old`, deliveries carry a second signature made with the old
    one for 24 hours, so receivers can switch over without missing an event."""
    row = await get(session, tenant_id, endpoint_id)
    now = now_s()
    row.previous_secret = row.signing_secret if keep_old else None
    row.previous_secret_expires_at = now + KEEP_OLD_SECRET_SECONDS if keep_old else None
    row.signing_secret = new_secret()
    row.updated_at = now
    await session.flush()
    return row


async def send_test(row: WebhookEndpoint, event_type: str, timeout_seconds: float) -> int:
    """POST a sample event (data.id `batch_test`), signed like any delivery; the HTTP status
    the endpoint answered with. No answer at all is a 400 naming the reason."""
    check_event_types([event_type])
    event_id, now = new_event_id(), now_s()
    body = payload(event_id, event_type, now, TEST_BATCH_ID)
    async with sender.open_session(1) as http:
        attempt = await sender.post(
            http,
            row.url,
            event_id,
            body,
            valid_secrets(
                row.signing_secret, row.previous_secret, row.previous_secret_expires_at, now
            ),
            timeout_seconds,
        )
    if attempt.status is None:
        raise InvalidRequest(
            f"The test event to webhook endpoint {row.id} got no answer: {attempt.error}.",
            param="url",
            code="webhook_test_failed",
        )
    return attempt.status
