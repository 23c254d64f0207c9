"""One signed webhook POST, shared by the delivery loop and `POST /webhook_endpoints/{id}/test`.

Redirects are never followed (a 3xx is a failed attempt), cookies are never kept, and at most
a little of the answer is read. Nothing here logs: callers log the event id and type only,
never the URL (it may carry a token), the body or a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from batchgate import __version__
from batchgate.kit.clock import now_s
from batchgate.webhooks.signing import signature_header

USER_AGENT = f"batchgate-webhooks/{__version__}"
_READ_AT_MOST = 64 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST got: an HTTP status, or an error without one."""

    status: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else str(self.error)


def open_session(max_connections: int) -> aiohttp.ClientSession:
    """A session for webhook deliveries: its own pool, no cookies, no proxy from the env."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"user-agent": USER_AGENT},
        auto_decompress=False,
    )


async def post(
    session: aiohttp.ClientSession,
    url: str,
    message_id: str,
    body: str,
    signing_secrets: Sequence[str],
    timeout_seconds: float,
) -> Attempt:
    timestamp = now_s()
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, message_id, timestamp, body),
    }
    try:
        async with session.post(
            url,
            data=body.encode(),
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            await response.content.read(_READ_AT_MOST)
            return Attempt(response.status)
    except TimeoutError:
        return Attempt(None, f"no answer within {timeout_seconds:g}s")
    except (aiohttp.ClientError, ValueError) as exc:
        return Attempt(None, _describe_error(exc))


def _describe_error(exc: BaseException) -> str:
    """The kind of failure, without echoing the URL (aiohttp puts it in some messages)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return type(exc).__name__
