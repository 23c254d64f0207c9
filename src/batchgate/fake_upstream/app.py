"""The aiohttp application and the blocking ``run`` entry point of the fake upstream.

This process is the upstream in throughput benchmarks, so the request path avoids middlewares,
logging and needless allocation: one closure per route, headers given as a plain dict, static
bodies serialised once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import web

from batchgate.fake_upstream.embeddings import embeddings
from batchgate.fake_upstream.errors import (
    DEFAULT_RETRY_AFTER_S,
    BadRequest,
    canned_envelope,
    envelope,
    missing,
    retry_headers,
)
from batchgate.fake_upstream.faults import Stats, parse_directive, request_key
from batchgate.fake_upstream.payloads import (
    MODELS_BODY,
    Builder,
    chat_completion,
    completion,
    moderation,
    response,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Recorded in ``by_status`` when the client went away before we answered (nginx convention).
CLIENT_CLOSED: Final = 499
#: Batch lines can carry large prompts or inline images; aiohttp's 1 MiB default is too small.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024

_JSON: Final = "application/json"
_BAD_JSON: Final = envelope(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
    "invalid_request_error",
)
_TOO_LARGE: Final = envelope("Request body too large.", "invalid_request_error")
_NO_STREAM: Final = "Streaming is not supported by this upstream: batch requests cannot stream."


class FakeUpstream:
    """Configuration, counters and request handling of one fake upstream instance."""

    def __init__(
        self,
        latency_ms: float = 20.0,
        jitter_ms: float = 0.0,
        fail_rate: float = 0.0,
        fail_status: int = 503,
        seed: int | None = None,
    ) -> None:
        if latency_ms < 0 or jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be within [0, 1]")
        if not 400 <= fail_status <= 599:
            raise ValueError("fail_status must be an HTTP error status (400-599)")
        self.latency_s = latency_ms / 1000
        self.jitter_s = jitter_ms / 1000
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self.stats = Stats()
        # ``seed`` makes jitter and injected failures reproducible; ids come from a separate,
        # unseeded generator so two runs with the same seed never hand out the same ids.
        self._rng = random.Random(seed)
        self._id_bits = random.Random().getrandbits

    def new_id(self) -> str:
        """A fresh 24-hex-digit id for response objects."""
        return f"{self._id_bits(96):024x}"

    def json(
        self, body: bytes, status: int = 200, extra: dict[str, str] | None = None
    ) -> web.Response:
        """A JSON response carrying the ``x-request-id`` header every OpenAI response has."""
        headers = {"Content-Type": _JSON, "x-request-id": f"req_{self._id_bits(128):032x}"}
        if extra:
            headers.update(extra)
        return web.Response(body=body, status=status, headers=headers)

    def failure(self, status: int, retry_after: float | None) -> web.Response:
        """An injected failure; a 429 always tells the client when to retry."""
        if status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER_S
        extra = retry_headers(retry_after) if retry_after is not None else None
        return self.json(canned_envelope(status), status, extra)

    def endpoint(self, build: Builder, default_model: str | None = None) -> Handler:
        """Wrap a payload builder as a counted ``/v1`` POST handler."""

        async def handle(request: web.Request) -> web.StreamResponse:
            stats = self.stats
            stats.total += 1
            stats.in_flight += 1
            if stats.in_flight > stats.max_in_flight:
                stats.max_in_flight = stats.in_flight
            status = CLIENT_CLOSED  # kept if the handler is cancelled by a disconnect
            try:
                resp = await self._answer(request, build, default_model)
                status = resp.status
                return resp
            finally:
                stats.in_flight -= 1
                stats.by_status[status] = stats.by_status.get(status, 0) + 1

        return handle

    def _latency(self) -> float:
        if self.jitter_s:
            return self.latency_s + self._rng.uniform(0.0, self.jitter_s)
        return self.latency_s

    def _plan(self, body: dict[str, Any], raw: bytes) -> tuple[float, int | None, float | None]:
        """(delay seconds, status to fail with or None, retry-after) for one request."""
        raw_directive = body.get("x_fake")
        directive = None if raw_directive is None else parse_directive(raw_directive)
        delay: float | None = None
        fail: int | None = None
        retry_after: float | None = None
        key = request_key(body, raw, directive)
        if key is not None:
            attempt = self.stats.attempt(key)
            if directive is not None:
                if directive.hangs(attempt):
                    delay = directive.hang_s
                elif directive.latency_ms is not None:
                    delay = directive.latency_ms / 1000
                if directive.fails(attempt):
                    fail, retry_after = directive.status, directive.retry_after
        if fail is None and self.fail_rate and self._rng.random() < self.fail_rate:
            fail = self.fail_status
        return (self._latency() if delay is None else delay), fail, retry_after

    async def _answer(
        self, request: web.Request, build: Builder, default_model: str | None
    ) -> web.Response:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self.json(_TOO_LARGE, 413)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            await _sleep(self._latency())
            return self.json(_BAD_JSON, 400)
        try:
            delay, fail, retry_after = self._plan(body, raw)
        except BadRequest as exc:
            return self.json(exc.body(), 400)
        await _sleep(delay)
        if fail is not None:
            return self.failure(fail, retry_after)
        try:
            model = body.get("model", default_model)
            if not isinstance(model, str) or not model:
                raise missing("model")
            if body.get("stream") is True:
                raise BadRequest(_NO_STREAM, "stream", "unsupported_value")
            payload = build(body, model, self.new_id)
        except BadRequest as exc:
            return self.json(exc.body(), 400)
        return self.json(orjson.dumps(payload))

    async def models(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models``."""
        return self.json(MODELS_BODY)

    async def get_stats(self, request: web.Request) -> web.StreamResponse:
        """``GET /_fake/stats``."""
        return self.json(orjson.dumps(self.stats.snapshot()))

    async def reset(self, request: web.Request) -> web.StreamResponse:
        """``POST /_fake/reset``: clear counters and per-key attempt numbers."""
        self.stats.reset()
        return self.json(orjson.dumps(self.stats.snapshot()))

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other method/path, worded like OpenAI's own 404."""
        message = f"Invalid URL ({request.method} {request.path})"
        return self.json(envelope(message, "invalid_request_error"), 404)


async def _sleep(seconds: float) -> None:
    # Skipping the sleep when latency is 0 saves a loop iteration per request.
    if seconds > 0:
        await asyncio.sleep(seconds)


#: Where ``create_app`` stores its :class:`FakeUpstream`, for in-process inspection.
FAKE_UPSTREAM: Final = web.AppKey("fake_upstream", FakeUpstream)


def create_app(
    latency_ms: float = 20.0,
    jitter_ms: float = 0.0,
    fail_rate: float = 0.0,
    fail_status: int = 503,
    seed: int | None = None,
) -> web.Application:
    """Build the fake upstream application.

    ``latency_ms`` plus a uniform ``[0, jitter_ms]`` delay precedes every ``/v1`` answer;
    ``fail_rate`` is the probability that a request gets ``fail_status`` instead (a 429 carries
    retry hints); ``seed`` makes jitter and those failures reproducible. The instance is
    available as ``app[FAKE_UPSTREAM]``.
    """
    fake = FakeUpstream(latency_ms, jitter_ms, fail_rate, fail_status, seed)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[FAKE_UPSTREAM] = fake
    add = app.router.add_post
    add("/v1/chat/completions", fake.endpoint(chat_completion))
    add("/v1/completions", fake.endpoint(completion))
    add("/v1/embeddings", fake.endpoint(embeddings))
    add("/v1/responses", fake.endpoint(response))
    add("/v1/moderations", fake.endpoint(moderation, default_model="omni-moderation-latest"))
    app.router.add_get("/v1/models", fake.models)
    app.router.add_get("/_fake/stats", fake.get_stats)
    app.router.add_post("/_fake/reset", fake.reset)
    # Registered last: the router only falls through to it when nothing above matched.
    app.router.add_route("*", "/{tail:.*}", fake.not_found)
    return app


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(
    host: str = "127.0.0.1",
    port: int = 8001,
    latency_ms: float = 20.0,
    jitter_ms: float = 0.0,
    fail_rate: float = 0.0,
    fail_status: int = 503,
    seed: int | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (blocking), on uvloop when it is installed."""
    app = create_app(latency_ms, jitter_ms, fail_rate, fail_status, seed)
    web.run_app(
        app,
        host=host,
        port=port,
        loop=_new_loop(),
        access_log=None,  # no per-request logging: this is a benchmark upstream
        handler_cancellation=True,  # a client timeout should free the hanging handler
        backlog=4096,  # benchmarks open hundreds of connections at once
        shutdown_timeout=1.0,  # in-flight fake work is worthless; don't wait on hang_s
    )
