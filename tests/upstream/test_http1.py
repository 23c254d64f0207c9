"""The HTTP/1.1 transport under the upstream client, against raw servers on loopback that
answer byte for byte what each test scripts: framing, encodings, keep-alive, TLS, failures."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trustme

from batchgate.upstream import (
    Route,
    Upstream,
    UpstreamClient,
    UpstreamConnectionError,
    UpstreamTimeout,
)

BODY = b'{"model": "m", "input": "hi"}'


@dataclass
class Raw:
    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


Script = Callable[[Raw, asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader, raw: Raw) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    request = head + await reader.readexactly(length)
    raw.requests.append(request)
    return request


@asynccontextmanager
async def raw_server(
    script: Script, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Raw]:
    """Each connection runs `script(raw, reader, writer, n)`, n counting connections from 0."""
    raw = Raw(url="")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = raw.connections
        raw.connections += 1
        try:
            await script(raw, reader, writer, index)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, or the test is over
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    # the TLS certificate names localhost; plain connections use the address itself
    raw.url = f"https://localhost:{port}/v1" if ssl_context else f"http://127.0.0.1:{port}/v1"
    async with server:
        yield raw


def route(url: str, *, timeout: float = 5.0, key: str | None = None) -> Route:
    return Route(Upstream("raw", url, key, timeout_seconds=timeout), "m")


def answer(replies: list[bytes]) -> Script:
    """Answer the n-th request (over all connections) with replies[n], keeping connections."""

    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        while True:
            await read_request(reader, raw)
            writer.write(replies[len(raw.requests) - 1])
            await writer.drain()

    return script


def answering(replies: list[bytes]) -> AbstractAsyncContextManager[Raw]:
    return raw_server(answer(replies))


def ok(body: bytes, *headers: bytes) -> bytes:
    head = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\n" + head + b"Content-Length: %d\r\n\r\n" % len(body) + body


# --- framing ------------------------------------------------------------------------------------


async def test_chunked_body_is_reassembled() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-Id: r-1\r\n\r\n"
        b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
    )
    async with answering([reply]) as raw, UpstreamClient() as client:
        response = await client.send(route(raw.url), "/v1/chat/completions", BODY)
    assert response.status == 200
    assert response.body == b'{"a": 1}'
    assert response.request_id == "r-1"


async def test_body_until_close_without_length() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await read_request(reader, raw)
        writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"until": "close"}')
        await writer.drain()

    async with raw_server(script) as raw, UpstreamClient() as client:
        first = await client.send(route(raw.url), "/v1/x", BODY)
        second = await client.send(route(raw.url), "/v1/x", BODY)
    assert first.body == second.body == b'{"until": "close"}'
    assert raw.connections == 2  # a body framed by the close cannot share its connection


async def test_informational_answers_are_skipped() -> None:
    reply = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ok(b"{}")
    async with answering([reply]) as raw, UpstreamClient() as client:
        response = await client.send(route(raw.url), "/v1/x", BODY)
    assert response.status == 200
    assert response.body == b"{}"


async def test_request_bytes_on_the_wire() -> None:
    async with answering([ok(b"{}")]) as raw, UpstreamClient() as client:
        await client.send(route(raw.url + "/a b", key="sk-1"), "/v1/chat/completions", BODY)
    [request] = raw.requests
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/a%20b/chat/completions HTTP/1.1"
    assert b"Authorization: Bearer sk-1" in lines
    assert b"Content-Length: %d" % len(BODY) in lines
    assert body == BODY


# --- encodings and size limits --------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (b"gzip", gzip.compress),
        (b"deflate", zlib.compress),
        (b"deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, seen in the wild
    ],
)
async def test_compressed_bodies_are_decoded(
    encoding: bytes, encode: Callable[[bytes], bytes]
) -> None:
    payload = b'{"choices": []}' * 50
    reply = ok(encode(payload), b"Content-Encoding: " + encoding)
    async with answering([reply]) as raw, UpstreamClient() as client:
        response = await client.send(route(raw.url), "/v1/x", BODY)
    assert response.body == payload
    assert b"Accept-Encoding: gzip, deflate" in raw.requests[0]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (ok(b"xx", b"Content-Encoding: br"), "unsupported content-encoding"),
        (ok(b"not gzip", b"Content-Encoding: gzip"), "not valid gzip"),
        (ok(b"x" * 200_000), "response is larger than 100000 bytes"),
        # 10 MB of zeros in about 10 kB: small on the wire, refused once it is inflated
        (ok(gzip.compress(b"0" * 10_000_000), b"Content-Encoding: gzip"), "decoded response"),
    ],
)
async def test_undecodable_or_oversized_answers_fail(reply: bytes, message: str) -> None:
    client = UpstreamClient(max_response_bytes=100_000)
    async with answering([reply, ok(b"{}")]) as raw, client:
        with pytest.raises(UpstreamConnectionError, match=message):
            await client.send(route(raw.url), "/v1/x", BODY)
        # and the next request is unharmed, on a connection of its own
        assert (await client.send(route(raw.url), "/v1/x", BODY)).body == b"{}"
    assert raw.connections == 2


# --- keep-alive -------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection() -> None:
    async with answering([ok(b"{}")] * 5) as raw, UpstreamClient() as client:
        for _ in range(5):
            await client.send(route(raw.url), "/v1/x", BODY)
    assert raw.connections == 1
    assert len(raw.requests) == 5


async def test_connection_close_is_honoured() -> None:
    replies = [ok(b"{}", b"Connection: close")] * 3
    async with answering(replies) as raw, UpstreamClient() as client:
        for _ in range(3):
            await client.send(route(raw.url), "/v1/x", BODY)
    assert raw.connections == 3


async def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await read_request(reader, raw)
        writer.write(ok(b"{}"))  # keep-alive, then the server times the connection out
        await writer.drain()

    async with raw_server(script) as raw, UpstreamClient() as client:
        await client.send(route(raw.url), "/v1/x", BODY)
        await asyncio.sleep(0.1)  # the FIN arrives while the connection is idle
        response = await client.send(route(raw.url), "/v1/x", BODY)
    assert response.status == 200
    assert raw.connections == 2
    assert len(raw.requests) == 2


async def test_stale_connection_is_retried_once_on_a_new_one() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await read_request(reader, raw)
        writer.write(ok(b'{"n": %d}' % n))
        await writer.drain()
        if n == 0:  # the race: our next request arrives as the server closes the idle socket
            await read_request(reader, raw)
            return
        await reader.read()

    async with raw_server(script) as raw, UpstreamClient() as client:
        assert (await client.send(route(raw.url), "/v1/x", BODY)).body == b'{"n": 0}'
        assert (await client.send(route(raw.url), "/v1/x", BODY)).body == b'{"n": 1}'
    assert raw.connections == 2


async def test_a_new_connection_that_closes_is_an_error_not_a_retry() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await read_request(reader, raw)

    async with raw_server(script) as raw, UpstreamClient() as client:
        with pytest.raises(UpstreamConnectionError, match="closed before the response"):
            await client.send(route(raw.url), "/v1/x", BODY)
    assert raw.connections == 1


async def test_unsolicited_bytes_on_an_idle_connection_retire_it() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await read_request(reader, raw)
        writer.write(ok(b"{}") + b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with raw_server(script) as raw, UpstreamClient() as client:
        await client.send(route(raw.url), "/v1/x", BODY)
        await asyncio.sleep(0.05)
        response = await client.send(route(raw.url), "/v1/x", BODY)
    assert response.status == 200
    assert raw.connections == 2


# --- failures ---------------------------------------------------------------------------------


async def test_timeout_drops_the_connection_it_left_mid_answer() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await read_request(reader, raw)
        if n == 0:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")  # then stalls
            await writer.drain()
            await reader.read()
            return
        writer.write(ok(b"{}"))
        await writer.drain()
        await reader.read()

    async with raw_server(script) as raw, UpstreamClient() as client:
        with pytest.raises(UpstreamTimeout):
            await client.send(route(raw.url, timeout=0.3), "/v1/x", BODY)
        assert (await client.send(route(raw.url), "/v1/x", BODY)).body == b"{}"
    assert raw.connections == 2


async def test_cancelled_send_drops_its_connection() -> None:
    stalled = asyncio.Event()

    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        await read_request(reader, raw)
        if n == 0:
            stalled.set()
            await reader.read()
            return
        writer.write(ok(b"{}"))
        await writer.drain()
        await reader.read()

    async with raw_server(script) as raw, UpstreamClient() as client:
        task = asyncio.create_task(client.send(route(raw.url), "/v1/x", BODY))
        await asyncio.wait_for(stalled.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await client.send(route(raw.url), "/v1/x", BODY)).body == b"{}"
    assert raw.connections == 2


async def test_close_fails_sends_in_flight() -> None:
    arrived = asyncio.Event()

    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await read_request(reader, raw)
        arrived.set()
        await reader.read()

    async with raw_server(script) as raw:
        client = UpstreamClient()
        task = asyncio.create_task(client.send(route(raw.url), "/v1/x", BODY))
        await asyncio.wait_for(arrived.wait(), 5)
        await client.close()
        with pytest.raises(UpstreamConnectionError):
            await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("key", ["sk\r\nX-Injected: 1", "sk-\u2603-snowman"])
async def test_unsendable_keys_are_refused_before_sending(key: str) -> None:
    async with answering([ok(b"{}")]) as raw, UpstreamClient() as client:
        with pytest.raises(UpstreamConnectionError, match="cannot be put in an HTTP") as info:
            await client.send(route(raw.url, key=key), "/v1/x", BODY)
    assert raw.requests == []
    assert key not in str(info.value)
    assert info.value.__context__ is None  # an encoding error would carry the whole head


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/v1", "http://127.0.0.1:99999/v1", "http:///v1"])
async def test_urls_that_cannot_be_requested(url: str) -> None:
    async with UpstreamClient() as client:
        with pytest.raises(UpstreamConnectionError, match="cannot be put in an HTTP"):
            await client.send(route(url), "/v1/x", BODY)


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def tls_server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    return context


async def test_https_with_a_trusted_certificate(authority: trustme.CA) -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        for _ in range(2):
            await read_request(reader, raw)
            writer.write(ok(b'{"tls": true}'))
            await writer.drain()
        await reader.read()

    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    server = raw_server(script, ssl_context=tls_server_context(authority))
    async with server as raw, UpstreamClient(ssl_context=trusting) as client:
        for _ in range(2):
            response = await client.send(route(raw.url), "/v1/x", BODY)
            assert response.body == b'{"tls": true}'
    assert raw.connections == 1
    assert b"Host: localhost:" in raw.requests[0]


async def test_https_with_an_untrusted_certificate_is_refused(authority: trustme.CA) -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await read_request(reader, raw)

    server = raw_server(script, ssl_context=tls_server_context(authority))
    # the client trusts only the system's store, which has never heard of this authority
    async with server as raw, UpstreamClient() as client:
        with pytest.raises(UpstreamConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.send(route(raw.url), "/v1/x", BODY)
    assert raw.requests == []


async def test_a_stalled_tls_handshake_times_out() -> None:
    async def script(
        raw: Raw, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int
    ) -> None:
        await reader.read()  # accepts the TCP connection, never answers the ClientHello

    async with raw_server(script) as raw, UpstreamClient() as client:
        url = raw.url.replace("http://", "https://")
        with pytest.raises(UpstreamTimeout, match=r"timed out after 0\.3s"):
            await client.send(route(url, timeout=0.3), "/v1/x", BODY)
    assert raw.connections == 1
