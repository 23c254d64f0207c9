"""The HTTP client for model providers: pooled keep-alive connections, raw bytes in and out.

This is the hot path (thousands of requests per second per process), so it does no logging and
no JSON work, and computes each upstream's URL and request head once, not per request. The
transport is `http1` (httptools on asyncio): measured on the benchmark, httpx cost 7-13 ms of
CPU per request, aiohttp 0.12 ms and `http1` 0.03 ms.
"""

from __future__ import annotations

import asyncio
import math
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlsplit

from batchgate import __version__
from batchgate.upstream.http1 import (
    ConnectionPool,
    Http1Connection,
    Origin,
    StaleConnection,
    TransportError,
    TransportTimeout,
)
from batchgate.upstream.routing import Route, Upstream

USER_AGENT = f"batchgate/{__version__}"
_KEEPALIVE_SECONDS = 30.0
_PLAN_CACHE_LIMIT = 1024
#: a chat answer is kilobytes; this only stops a broken upstream from exhausting memory
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """Whatever HTTP status the upstream answered with; the body is passed on untouched."""

    status: int
    body: bytes
    request_id: str | None
    retry_after_seconds: float | None


class UpstreamError(Exception):
    """The request got no HTTP response at all (an HTTP error status is an UpstreamResponse)."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer completely within its `timeout_seconds`."""


class UpstreamConnectionError(UpstreamError):
    """The connection failed: refused, reset, closed early, or a malformed/truncated response."""


def join_url(base_url: str, endpoint: str) -> str:
    """The URL for an endpoint such as `/v1/chat/completions` on an upstream.

    `base_url` follows the OpenAI SDK convention: it is the API root including its version
    (`http://vllm:8000/v1`, `https://host/v1beta/openai`), so the endpoint's own `/v1` is dropped.
    A bare origin (`http://vllm:8000`, no path) cannot be an API root, so there the endpoint is
    appended whole, `/v1` included. Endpoints that do not start with `/v1` are appended as-is.
    """
    base = base_url.rstrip("/")
    if not endpoint.startswith("/"):
        endpoint = "/" + endpoint
    if urlsplit(base).path and (endpoint == "/v1" or endpoint.startswith("/v1/")):
        endpoint = endpoint[3:]
    return base + endpoint


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `retry-after` (seconds or an HTTP-date).

    None when neither is present and valid; negative and non-finite values count as invalid.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            seconds = _non_negative(float(millis) / 1000.0)
        except ValueError:
            seconds = None
        if seconds is not None:
            return seconds
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _non_negative(float(value))
    except ValueError:
        pass  # not a number of seconds, so it may be an HTTP-date
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; RFC 9110 dates are GMT anyway
        when = when.replace(tzinfo=UTC)
    return _non_negative(when.timestamp() - time.time())


def _non_negative(seconds: float) -> float | None:
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


@dataclass(frozen=True, slots=True)
class _Plan:
    url: str
    origin: Origin
    #: the request line and headers up to `Content-Length: `, ready to send
    head: bytes


class UpstreamClient:
    """Sends pre-encoded JSON bodies to upstreams over pooled keep-alive connections.

    Create it anywhere; connections are made inside the running loop, on the first send.
    `close()` is final. Concurrency limits per upstream are the caller's job.
    """

    __slots__ = ("_closed", "_plans", "_pool")

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._pool = ConnectionPool(
            keepalive_seconds=_KEEPALIVE_SECONDS,
            max_body=max_response_bytes,
            ssl_context=ssl_context,
        )
        self._closed = False
        self._plans: dict[tuple[Upstream, str], _Plan] = {}

    async def start(self) -> None:
        """Kept for symmetry with `close`: there is nothing to open ahead of the first send."""
        if self._closed:
            raise RuntimeError("UpstreamClient is closed")

    async def close(self) -> None:
        """Close every connection; later sends raise RuntimeError, sends in flight fail."""
        self._closed = True
        self._pool.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, route: Route, endpoint: str, body: bytes) -> UpstreamResponse:
        """POST `body` to `endpoint` on the route's upstream and read the whole answer.

        The body must already name `route.model`; it is sent byte for byte. Any HTTP status is
        returned, never raised, and redirects are not followed. Raises UpstreamTimeout or
        UpstreamConnectionError when there is no complete response.
        """
        if self._closed:
            raise RuntimeError("UpstreamClient is closed")
        upstream = route.upstream
        plan = self._plans.get((upstream, endpoint)) or self._plan(upstream, endpoint)
        pool = self._pool
        connection: Http1Connection | None = None
        timeout = upstream.timeout_seconds
        request = [plan.head, b"%d\r\n\r\n" % len(body), body]
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            connection = await pool.acquire(plan.origin, deadline)
            try:
                raw = await connection.exchange(request, deadline)
            except StaleConnection:
                # the upstream saw nothing of it: once more on a new connection
                pool.discard(connection)
                connection = await pool.acquire(plan.origin, deadline, fresh=True)
                raw = await connection.exchange(request, deadline)
        # The one place errors are mapped. The new error is raised outside the except blocks so
        # that it carries no __context__ (nothing from the request rides along).
        except TransportTimeout:
            if connection is not None:
                pool.discard(connection)
            error: UpstreamError = UpstreamTimeout(
                _message(upstream, plan, f"timed out after {timeout:g}s")
            )
        except TransportError as exc:
            if connection is not None:
                pool.discard(connection)
            error = UpstreamConnectionError(_message(upstream, plan, str(exc)))
        except BaseException:  # cancelled mid-exchange: the connection is in an unknown state
            if connection is not None:
                pool.discard(connection)
            raise
        else:
            pool.release(plan.origin, connection)
            headers = raw.headers
            return UpstreamResponse(
                raw.status, raw.body, headers.get("x-request-id"), parse_retry_after(headers)
            )
        raise error

    def _plan(self, upstream: Upstream, endpoint: str) -> _Plan:
        try:
            plan = _build_plan(upstream, endpoint)
        except ValueError:  # a bad port, an impossible host name, a key beyond Latin-1
            plan = None
        # raised out here, so the error carries no __context__ (which would hold the key)
        if plan is None:
            raise UpstreamConnectionError(
                f"upstream {upstream.name!r}: its base_url or API key cannot be put in an "
                "HTTP request (control characters, a non-Latin-1 key, a bad host or port)"
            )
        if len(self._plans) >= _PLAN_CACHE_LIMIT:
            self._plans.clear()
        self._plans[upstream, endpoint] = plan
        return plan


def _build_plan(upstream: Upstream, endpoint: str) -> _Plan | None:
    url = join_url(upstream.base_url, endpoint)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    origin = Origin(parts.scheme, parts.hostname, parts.port or default_port)
    host = origin.host.encode("idna").decode("ascii")
    if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
        host = f"[{host}]"
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    target = quote(parts.path or "/", safe=_PATH_SAFE) + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": host,
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate",
        "Content-Type": "application/json",
    }
    if upstream.api_key:
        headers["Authorization"] = f"Bearer {upstream.api_key}"
    if any(_UNSAFE_HEADER.search(value) for value in headers.values()):
        return None  # a CR or LF in a key from the environment would let it inject headers
    lines = [f"POST {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
    return _Plan(url, origin, head)


def _message(upstream: Upstream, plan: _Plan, what: str) -> str:
    message = f"upstream {upstream.name!r} ({plan.url}): {what}"
    # messages hold hosts and URLs, never headers; this is belt and braces for the key
    return message.replace(upstream.api_key, "***") if upstream.api_key else message
