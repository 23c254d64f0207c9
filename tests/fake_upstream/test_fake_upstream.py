"""The fake upstream, driven through the official ``openai`` SDK like a real upstream would be."""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web
from openai import OpenAI

from batchgate.fake_upstream import create_app


@contextmanager
def serve(app: web.Application) -> Iterator[str]:
    """Run ``app`` on an ephemeral loopback port in a background thread; yield its base URL."""
    loop = asyncio.new_event_loop()
    # Same settings as ``run``: a client timeout cancels the hanging handler.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.2)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(create_app(latency_ms=0)) as url:
        yield url


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    # Module-scoped: building a client (its TLS context) costs more than a whole test here.
    with httpx.Client(base_url=base_url) as client:
        yield client


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0) as sdk:
        yield sdk


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> None:
    if "http" in request.fixturenames:
        request.getfixturevalue("http").post("/_fake/reset").raise_for_status()


def fake(**directive: Any) -> dict[str, Any]:
    """``extra_body`` carrying an ``x_fake`` directive with a key unique to this call site."""
    directive.setdefault("key", uuid.uuid4().hex)
    return {"x_fake": directive}


def test_chat_completion_shape_and_counts(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello there world"}]},
        ],
    )
    assert re.fullmatch(r"req_[0-9a-f]{32}", raw.headers["x-request-id"])
    assert raw.headers["content-type"] == "application/json"
    resp = raw.parse()
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "gpt-4o-mini"
    assert resp.system_fingerprint == "fp_fake"
    (choice,) = resp.choices
    assert choice.message.content == "echo: hello there world"
    assert choice.finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == (4 + 2) + (4 + 3)
    assert resp.usage.completion_tokens == 4
    assert resp.usage.total_tokens == 17


def test_chat_n_and_max_tokens(client: OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "one two three"}]
    resp = client.chat.completions.create(model="m", messages=messages, n=3, max_tokens=2)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert {c.finish_reason for c in resp.choices} == {"length"}
    assert resp.choices[0].message.content == "echo: one"
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 6


def test_completions(client: OpenAI) -> None:
    resp = client.completions.create(model="m", prompt=["a b", "c"], n=2)
    assert resp.object == "text_completion"
    assert [c.index for c in resp.choices] == [0, 1, 2, 3]
    assert [c.text for c in resp.choices] == ["echo: a b"] * 2 + ["echo: c"] * 2
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (3, 3 + 3 + 2 + 2)
    assert resp.usage.total_tokens == 13


def test_embeddings_base64_and_float(client: OpenAI) -> None:
    # The SDK asks for base64 unless told otherwise, then decodes it.
    b64 = client.embeddings.create(model="text-embedding-3-small", input=["x y", "z"])
    assert [d.index for d in b64.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in b64.data)
    assert math.isclose(math.fsum(v * v for v in b64.data[0].embedding), 1.0, rel_tol=1e-5)
    assert b64.usage.prompt_tokens == b64.usage.total_tokens == 3
    floats = client.embeddings.create(model="e", input="x y", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(b64.data[0].embedding, rel=1e-6)
    wide = client.embeddings.create(model="e", input=[[1, 2, 3]], dimensions=32)
    assert len(wide.data[0].embedding) == 32
    assert wide.usage.prompt_tokens == 3


def test_responses(client: OpenAI) -> None:
    resp = client.responses.create(model="m", input="hi you", instructions="be nice")
    assert resp.id.startswith("resp_")
    assert resp.status == "completed"
    assert resp.output_text == "echo: hi you"
    assert resp.usage is not None
    assert resp.usage.input_tokens == 2 + 4 + 2
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    items: Any = [
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second question"},
    ]
    assert client.responses.create(model="m", input=items).output_text == "echo: second question"


def test_moderations_and_models(client: OpenAI) -> None:
    mod = client.moderations.create(input=["a", "b"])
    assert mod.model == "omni-moderation-latest"
    assert len(mod.results) == 2
    assert not mod.results[0].flagged
    assert mod.results[0].categories.violence is False
    assert mod.results[0].category_scores.violence == 0.0
    assert "gpt-4o-mini" in {m.id for m in client.models.list()}


def test_fail_times_then_success_with_retry_after(client: OpenAI, http: httpx.Client) -> None:
    body = fake(fail_times=2, status=429, retry_after=1.5)
    msgs: Any = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="m", messages=msgs, extra_body=body)
        assert err.value.code == "rate_limit_exceeded"
        assert err.value.response.headers["retry-after"] == "2"
        assert err.value.response.headers["retry-after-ms"] == "1500"
    client.chat.completions.create(model="m", messages=msgs, extra_body=body)
    stats = http.get("/_fake/stats").json()
    assert stats["by_key"] == {body["x_fake"]["key"]: 3}
    assert stats["by_status"] == {"200": 1, "429": 2}
    assert stats["total"] == 3


def test_permanent_and_server_errors(client: OpenAI) -> None:
    msgs: Any = [{"role": "user", "content": "hi"}]
    permanent = fake(fail_times=-1, status=400)
    for _ in range(3):
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model="m", messages=msgs, extra_body=permanent)
        assert bad.value.code == "context_length_exceeded"
    with pytest.raises(openai.InternalServerError) as err:
        client.embeddings.create(model="m", input="x", extra_body=fake(fail_times=1, status=503))
    assert err.value.status_code == 503
    assert err.value.type == "server_error"
    assert "retry-after" not in err.value.response.headers


def test_hang_makes_client_time_out_then_recovers(client: OpenAI, http: httpx.Client) -> None:
    body = fake(hang_s=5, hang_times=1)
    msgs: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(
            model="m", messages=msgs, extra_body=body
        )
    started = time.monotonic()
    client.chat.completions.create(model="m", messages=msgs, extra_body=body)
    assert time.monotonic() - started < 1
    # The disconnect cancels the hanging handler, which is then counted as a 499.
    deadline = time.monotonic() + 2
    while http.get("/_fake/stats").json()["by_status"].get("499") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_latency_override_and_max_in_flight(http: httpx.Client) -> None:
    body = {"model": "m", "input": "x", "x_fake": {"latency_ms": 200}}
    started = time.monotonic()
    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lambda _: http.post("/v1/moderations", json=body), range(5)))
    assert time.monotonic() - started >= 0.2
    assert [r.status_code for r in statuses] == [200] * 5
    stats = http.get("/_fake/stats").json()
    assert stats["max_in_flight"] == 5
    assert stats["in_flight"] == 0


def test_stats_by_key_and_reset(http: httpx.Client) -> None:
    http.post("/v1/moderations", json={"input": "plain"})
    http.post("/v1/moderations", json={"input": "u", "user": "alice"})
    assert http.get("/_fake/stats").json()["by_key"] == {"alice": 1}
    failing = {"model": "m", "input": "x", "x_fake": {"key": "k", "fail_times": 1}}
    assert http.post("/v1/embeddings", json=failing).status_code == 500
    assert http.post("/v1/embeddings", json=failing).status_code == 200
    http.post("/_fake/reset")
    assert http.post("/v1/embeddings", json=failing).status_code == 500
    assert http.get("/_fake/stats").json()["by_key"] == {"k": 1}


def test_stream_is_rejected(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert err.value.param == "stream"


@pytest.mark.parametrize(
    ("path", "content", "status", "param"),
    [
        ("/v1/chat/completions", b'{"messages": []', 400, None),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        ("/v1/embeddings", b'{"model": "m", "input": "x", "dimensions": 0}', 400, "dimensions"),
        (
            "/v1/embeddings",
            b'{"model": "m", "input": "x", "x_fake": {"fail_times": "2"}}',
            400,
            "x_fake.fail_times",
        ),
        ("/v1/x", b"{}", 404, None),
    ],
)
def test_error_envelopes(
    http: httpx.Client, path: str, content: bytes, status: int, param: str | None
) -> None:
    resp = http.post(path, content=content)
    assert resp.status_code == status
    assert resp.headers["x-request-id"].startswith("req_")
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if status == 404:
        assert error["message"] == "Invalid URL (POST /v1/x)"


def test_wrong_method_is_invalid_url(http: httpx.Client) -> None:
    resp = http.get("/v1/chat/completions")
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Invalid URL (GET /v1/chat/completions)"


def test_random_failures_are_seeded_and_429_carries_retry_hints(http: httpx.Client) -> None:
    def outcomes(seed: int) -> list[int]:
        app = create_app(latency_ms=0, fail_rate=0.5, fail_status=429, seed=seed)
        with serve(app) as url:
            responses = [http.post(f"{url}/v1/moderations", json={"input": "x"}) for _ in range(20)]
        for resp in responses:
            if resp.status_code == 429:
                assert resp.headers["retry-after"] == "1"
                assert resp.headers["retry-after-ms"] == "100"
        return [r.status_code for r in responses]

    first = outcomes(7)
    assert first == outcomes(7)
    assert set(first) == {200, 429}


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        create_app(fail_rate=1.5)
    with pytest.raises(ValueError, match="fail_status"):
        create_app(fail_status=200)
