"""Everything that talks to model providers: routing, the HTTP client and the retry policy."""

from batchgate.upstream.client import (
    USER_AGENT,
    UpstreamClient,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
    join_url,
    parse_retry_after,
)
from batchgate.upstream.retry import RetryPolicy
from batchgate.upstream.routing import (
    DEFAULT_UPSTREAM,
    Route,
    Router,
    RouteRule,
    Upstream,
    load_router,
)

__all__ = [
    "DEFAULT_UPSTREAM",
    "USER_AGENT",
    "RetryPolicy",
    "Route",
    "RouteRule",
    "Router",
    "Upstream",
    "UpstreamClient",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamTimeout",
    "join_url",
    "load_router",
    "parse_retry_after",
]
