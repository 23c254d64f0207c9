from __future__ import annotations

import asyncio
import socket
import time
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from batchgate import __version__
from batchgate.upstream import (
    Route,
    Upstream,
    UpstreamClient,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
    join_url,
    parse_retry_after,
)

SECRET = "sk-client-secret-9f8e7d6c5b4a"
# Not valid JSON on purpose, with bytes a re-encoder would change: it must arrive untouched.
BODY = b'{"model": "m",  "input": "PRIVATE-PROMPT \xc3\xa9\\u00e9", "n": 1.50}'


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int


@dataclass
class Upstreams:
    """A real HTTP server on loopback whose behaviour is chosen by the request path."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def build_app(state: Upstreams) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        body = await request.read()
        state.seen.append(Seen(request.path, dict(request.headers), body, peer[1] if peer else 0))
        name = request.path.rsplit("/", 1)[-1]
        if name == "slow":
            await asyncio.wait_for(state.release.wait(), 5)
        if name == "limited-ms":
            return web.Response(status=429, headers={"retry-after-ms": "1500", "retry-after": "7"})
        if name == "limited-s":
            return web.Response(status=429, headers={"retry-after": "2.5"})
        if name == "limited-date":
            return web.Response(
                status=429, headers={"retry-after": formatdate(time.time() + 30, usegmt=True)}
            )
        if name == "limited-bad":
            return web.Response(status=429, headers={"retry-after-ms": "x", "retry-after": "soon"})
        if name == "boom":
            return web.Response(status=500, body=b'{"error": {"message": "oops"}}  \n')
        if name == "redirect":
            raise web.HTTPTemporaryRedirect("/v1/ok")
        return web.Response(
            status=200, body=b'{"id": "chatcmpl-1"}', headers={"x-request-id": "req-123"}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Upstreams]:
    state = Upstreams(url="")
    async with TestServer(build_app(state)) as test_server:
        state.url = str(test_server.make_url("")).rstrip("/")
        yield state
        state.release.set()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient() as upstream_client:
        yield upstream_client


def route_to(base_url: str, *, key: str | None = SECRET, timeout: float = 5.0) -> Route:
    return Route(Upstream("test", base_url, key, timeout_seconds=timeout), "m")


async def raw_server(reply: bytes) -> tuple[asyncio.Server, str]:
    """A TCP server that reads the request head, writes `reply` and hangs up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://127.0.0.1:{port}/v1"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_leaks_nothing(exc: BaseException) -> None:
    text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    assert SECRET not in text
    assert "PRIVATE-PROMPT" not in text
    # Raised outside the except block: no transport exception rides along.
    assert exc.__cause__ is None
    assert exc.__context__ is None


# --- the happy path ---------------------------------------------------------------------------


async def test_ok_response_and_request_shape(server: Upstreams, client: UpstreamClient) -> None:
    response = await client.send(route_to(server.url + "/v1"), "/v1/chat/completions", BODY)
    assert response.status == 200
    assert response.body == b'{"id": "chatcmpl-1"}'
    assert response.request_id == "req-123"
    assert response.retry_after_seconds is None
    [seen] = server.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.body == BODY
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == f"batchgate/{__version__}"
    assert seen.headers["Content-Length"] == str(len(BODY))
    assert seen.headers["Host"] == server.url.removeprefix("http://")


async def test_no_authorization_header_without_a_key(
    server: Upstreams, client: UpstreamClient
) -> None:
    await client.send(route_to(server.url + "/v1", key=None), "/v1/embeddings", BODY)
    assert "Authorization" not in server.seen[0].headers


@pytest.mark.parametrize(
    ("suffix", "endpoint", "path"),
    [
        ("/v1", "/v1/embeddings", "/v1/embeddings"),
        ("/v1/", "/v1/chat/completions", "/v1/chat/completions"),
        ("", "/v1/embeddings", "/v1/embeddings"),
        ("/api/openai", "/v1/completions", "/api/openai/completions"),
    ],
)
async def test_url_join_over_http(
    server: Upstreams, client: UpstreamClient, suffix: str, endpoint: str, path: str
) -> None:
    await client.send(route_to(server.url + suffix), endpoint, BODY)
    assert server.seen[0].path == path


@pytest.mark.parametrize(
    ("base", "endpoint", "url"),
    [
        ("http://h:1/v1", "/v1/embeddings", "http://h:1/v1/embeddings"),
        ("http://h:1/v1/", "/v1/embeddings", "http://h:1/v1/embeddings"),
        ("http://h:1", "/v1/embeddings", "http://h:1/v1/embeddings"),
        ("http://h:1/", "/v1/embeddings", "http://h:1/v1/embeddings"),
        (
            "https://g/v1beta/openai",
            "/v1/chat/completions",
            "https://g/v1beta/openai/chat/completions",
        ),
        ("http://h:1/v1", "/health", "http://h:1/v1/health"),
        ("http://h:1/v1", "v1/embeddings", "http://h:1/v1/embeddings"),
        ("http://h:1/v1", "/v1beta/x", "http://h:1/v1/v1beta/x"),
    ],
)
def test_join_url(base: str, endpoint: str, url: str) -> None:
    assert join_url(base, endpoint) == url


async def test_http_errors_are_responses_with_the_body_untouched(
    server: Upstreams, client: UpstreamClient
) -> None:
    response = await client.send(route_to(server.url + "/v1"), "/v1/boom", BODY)
    assert response.status == 500
    assert response.body == b'{"error": {"message": "oops"}}  \n'
    assert response.request_id is None


async def test_redirects_are_not_followed(server: Upstreams, client: UpstreamClient) -> None:
    response = await client.send(route_to(server.url + "/v1"), "/v1/redirect", BODY)
    assert response.status == 307
    assert [seen.path for seen in server.seen] == ["/v1/redirect"]


async def test_connections_are_reused(server: Upstreams, client: UpstreamClient) -> None:
    route = route_to(server.url + "/v1")
    gate = asyncio.Semaphore(4)

    async def send() -> int:
        async with gate:
            return (await client.send(route, "/v1/x", BODY)).status

    statuses = await asyncio.gather(*(send() for _ in range(100)))
    assert set(statuses) == {200}
    assert len(server.seen) == 100
    assert len({seen.peer_port for seen in server.seen}) <= 4


# --- retry hints --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "low", "high"),
    [("/v1/limited-ms", 1.5, 1.5), ("/v1/limited-s", 2.5, 2.5), ("/v1/limited-date", 25, 31)],
)
async def test_retry_after_over_http(
    server: Upstreams, client: UpstreamClient, endpoint: str, low: float, high: float
) -> None:
    response = await client.send(route_to(server.url + "/v1"), endpoint, BODY)
    assert response.status == 429
    assert response.retry_after_seconds is not None
    assert low <= response.retry_after_seconds <= high


async def test_unparseable_retry_after_is_none(server: Upstreams, client: UpstreamClient) -> None:
    response = await client.send(route_to(server.url + "/v1"), "/v1/limited-bad", BODY)
    assert response.status == 429
    assert response.retry_after_seconds is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "nope", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "-5", "retry-after": "9"}, 9.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # in the past
        ({"retry-after": "not a date"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date_in_the_future() -> None:
    for date in (formatdate(time.time() + 60, usegmt=True), formatdate(time.time() + 60)):
        seconds = parse_retry_after({"retry-after": date})
        assert seconds is not None
        assert 55 <= seconds <= 61


# --- failures without a response ----------------------------------------------------------------


async def test_timeout(server: Upstreams, client: UpstreamClient) -> None:
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as info:
        await client.send(route_to(server.url + "/v1", timeout=0.2), "/v1/slow", BODY)
    assert time.monotonic() - started < 2
    assert "upstream 'test'" in str(info.value)
    assert "timed out after 0.2s" in str(info.value)
    assert_leaks_nothing(info.value)


async def test_connection_refused(client: UpstreamClient) -> None:
    route = route_to(f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(UpstreamConnectionError) as info:
        await client.send(route, "/v1/chat/completions", BODY)
    assert "cannot connect" in str(info.value)
    assert_leaks_nothing(info.value)


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # hangs up without answering
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntruncated",
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
)
async def test_broken_responses_are_connection_errors(client: UpstreamClient, reply: bytes) -> None:
    srv, url = await raw_server(reply)
    async with srv:
        with pytest.raises(UpstreamConnectionError) as info:
            await client.send(route_to(url), "/v1/chat/completions", BODY)
    assert_leaks_nothing(info.value)


async def test_key_in_a_message_is_redacted(client: UpstreamClient) -> None:
    # A key that also appears in the URL would otherwise be echoed by the message.
    route = Route(Upstream("u", f"http://127.0.0.1:{closed_port()}/v1", "127.0.0.1"), "m")
    with pytest.raises(UpstreamError) as info:
        await client.send(route, "/v1/x", BODY)
    assert "127.0.0.1" not in str(info.value)
    assert "***" in str(info.value)


# --- lifecycle ----------------------------------------------------------------------------------


def test_construction_needs_no_event_loop() -> None:
    UpstreamClient()  # the pool connects inside the loop, on the first send


async def test_first_send_starts_the_session(server: Upstreams) -> None:
    client = UpstreamClient()
    try:
        response = await client.send(route_to(server.url + "/v1"), "/v1/x", BODY)
        assert response.status == 200
    finally:
        await client.close()


async def test_send_after_close_is_an_error(server: Upstreams) -> None:
    client = UpstreamClient()
    await client.start()
    await client.close()
    await client.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await client.send(route_to(server.url + "/v1"), "/v1/x", BODY)
