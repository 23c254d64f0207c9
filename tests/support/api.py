"""Helpers for the API conformance suite (tests/api): tenants, raw HTTP, uploads, polling.

Every test gets tenants of its own. The bootstrap key pool in `conftest.KEY_POOL` is far
smaller than the number of tests in this suite, so tenants are minted the way
`batchgate keys create` does (one tenant per key, straight into the stack's database), a batch
at a time; the running server authenticates them like any other key.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from openai import AsyncOpenAI, OpenAI
from openai.types import Batch, FileObject

if TYPE_CHECKING:
    from conftest import Stack

MINT_BATCH = 32
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})

_minted: dict[str, list[str]] = {}
_mint_lock = threading.Lock()


def _mint(database_url: str, count: int) -> list[str]:
    from batchgate.auth.service import create_key
    from batchgate.db.engine import create_engine, create_sessionmaker
    from batchgate.db.session import session_scope

    async def mint() -> list[str]:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                return [(await create_key(session, "api-suite")).key for _ in range(count)]
        finally:
            await engine.dispose()

    # a thread of its own, so async tests (which already run a loop) can mint too
    result: list[list[str]] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(mint())))
    thread.start()
    thread.join()
    assert result, "minting tenant keys failed (see the traceback above)"
    return result[0]


def new_key(stack: Stack) -> str:
    """The API key of a brand-new tenant on `stack`."""
    with _mint_lock:
        pool = _minted.setdefault(stack.database_url, [])
        if not pool:
            pool.extend(_mint(stack.database_url, MINT_BATCH))
        return pool.pop()


def new_client(stack: Stack, key: str | None = None) -> OpenAI:
    """A sync SDK client (max_retries=0) for a fresh tenant, or for `key`."""
    return stack.client(key or new_key(stack))


def new_async_client(stack: Stack, key: str | None = None) -> AsyncOpenAI:
    return stack.async_client(key or new_key(stack))


def raw_http(stack: Stack, key: str | None) -> httpx.Client:
    """Plain httpx against `/v1`, authenticated with `key` (no Authorization header if None)."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.Client(base_url=stack.base_url + "/", headers=headers, timeout=30)


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


def settle(client: OpenAI, batch_ids: Iterable[str]) -> list[Batch]:
    """Wait for every batch to end, so no test leaves the engine writing files behind it."""
    return [wait_for_batch(client, batch_id) for batch_id in batch_ids]


# --- assertions -----------------------------------------------------------------------------

ERROR_KEYS = {"message", "type", "param", "code"}
ANY: Any = object()
"""`assert_error(param=ANY)`: do not check that key."""


def assert_error(
    response: httpx.Response,
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
