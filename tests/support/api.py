"""Helpers for the API conformance suite (tests/api): tenants, raw HTTP, uploads, polling.

Every test gets tenants of its own, from the stack's pool of bootstrap keys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
from openai import AsyncOpenAI, OpenAI
from openai.types import Batch, FileObject

from support.stacks import Stack

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def new_key(stack: Stack) -> str:
    """The API key of a brand-new tenant on `stack`."""
    return stack.new_key()


def new_client(stack: Stack, key: str | None = None) -> OpenAI:
    """A sync SDK client (max_retries=0) for a fresh tenant, or for `key`."""
    return stack.client(key)


def new_async_client(stack: Stack, key: str | None = None) -> AsyncOpenAI:
    return stack.async_client(key)


def raw_http(stack: Stack, key: str | None) -> httpx.Client:
    """Plain httpx against `/v1`, authenticated with `key` (no Authorization header if None)."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.Client(base_url=stack.base_url + "/", headers=headers, timeout=30, verify=False)


def origin(stack: Stack) -> str:
    """`http://127.0.0.1:<port>`, for routes outside `/v1` (`/healthz`)."""
    return stack.base_url.removesuffix("/v1")


# --- request bodies -------------------------------------------------------------------------


def jsonl(objects: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def embedding_lines(count: int, *, prefix: str = "r", **body: Any) -> list[dict[str, Any]]:
    """`count` valid `/v1/embeddings` request lines; extra `body` keys (e.g. x_fake) on each."""
    return [
        {
            "custom_id": f"{prefix}{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "emb", "input": f"text {i}", **body},
        }
        for i in range(count)
    ]


def upload_batch_input(client: OpenAI, lines: list[dict[str, Any]] | None = None) -> FileObject:
    """Upload a purpose=batch file (one embeddings line unless `lines` is given)."""
    data = jsonl(lines if lines is not None else embedding_lines(1))
    return client.files.create(file=("input.jsonl", data), purpose="batch")


def create_embeddings_batch(
    client: OpenAI, lines: list[dict[str, Any]] | None = None, **params: Any
) -> Batch:
    upload = upload_batch_input(client, lines)
    params.setdefault("completion_window", "24h")
    return client.batches.create(input_file_id=upload.id, endpoint="/v1/embeddings", **params)


def upload_raw(
    http: httpx.Client,
    data: bytes,
    *,
    purpose: str | None = "batch",
    filename: str = "input.jsonl",
    fields: Mapping[str, str] | None = None,
) -> httpx.Response:
    """`POST /files` as multipart with exactly the given parts (purpose omitted if None)."""
    form = dict(fields or {})
    if purpose is not None:
        form["purpose"] = purpose
    return http.post("files", data=form, files={"file": (filename, data)})


# --- waiting --------------------------------------------------------------------------------


def wait_for_batch(
    client: OpenAI, batch_id: str, statuses: Iterable[str] = TERMINAL, timeout: float = 20.0
) -> Batch:
    """Poll (every 50 ms) until the batch is in one of `statuses`; fail on timeout."""
    wanted = frozenset(statuses)
    deadline = time.monotonic() + timeout
    batch = client.batches.retrieve(batch_id)
    while batch.status not in wanted:
        assert time.monotonic() < deadline, f"batch never reached {sorted(wanted)}: {batch}"
        time.sleep(0.05)
        batch = client.batches.retrieve(batch_id)
    return batch


def wait_for_upstream(stack: Stack, key: str, count: int = 1, timeout: float = 20.0) -> None:
    """Poll until the fake upstream has received `count` requests whose `x_fake.key` is `key`
    (counted on arrival, so a slow request is known to be in flight)."""
    deadline = time.monotonic() + timeout
    stats_url = f"http://127.0.0.1:{stack.upstream.port}/_fake/stats"
    with httpx.Client(verify=False, timeout=5) as http:
        while http.get(stats_url).json()["by_key"].get(key, 0) < count:
            assert time.monotonic() < deadline, f"the upstream never saw {count} x {key!r}"
            time.sleep(0.02)


def settle(client: OpenAI, batch_ids: Iterable[str]) -> list[Batch]:
    """Wait for every batch to end, so no test leaves the engine writing files behind it."""
    return [wait_for_batch(client, batch_id) for batch_id in batch_ids]


# --- assertions -----------------------------------------------------------------------------


class Response(Protocol):
    """What `assert_error` reads: an httpx response, or the SDK's (`APIStatusError.response`)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


ERROR_KEYS = {"message", "type", "param", "code"}
ANY: Any = object()
"""`assert_error(param=ANY)`: do not check that key."""


def assert_error(
    response: Response,
    status: int,
    *,
    param: str | None = ANY,
    code: str | None = ANY,
    contains: Iterable[str] = (),
) -> dict[str, Any]:
    """The OpenAI error envelope with all four keys, the status, and the given values.

    `param`/`code` are checked only when passed (None means "must be null"); every string in
    `contains` must occur in the message. Returns the inner error object.
    """
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["message"], str)
    assert error["message"]
    if status < 500:
        assert error["type"] == "invalid_request_error", error
    if param is not ANY:
        assert error["param"] == param, error
    if code is not ANY:
        assert error["code"] == code, error
    for text in contains:
        assert text in error["message"], error
    return error


# --- server storage -------------------------------------------------------------------------


def storage_root(stack: Stack) -> Path:
    """The server's LocalStorage root (`<workdir>/data/files`; objects under `files/`)."""
    return stack.server.log.parent / "data" / "files"


def stored_objects(stack: Stack) -> set[Path]:
    """Every file under the storage root, temporary ones (`.tmp/`) included."""
    root = storage_root(stack)
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def temp_objects(stack: Stack) -> list[Path]:
    tmp = storage_root(stack) / ".tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []
