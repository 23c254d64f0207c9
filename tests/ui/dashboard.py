"""Helpers for the dashboard tests: a browser-like httpx client, signing in, batches to show."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from openai import OpenAI
from openai.types import Batch

from support.batches import chat_line, jsonl, wait_for
from support.procs import BATCHGATE, base_env
from support.stacks import Stack

COOKIE = "batchgate_ui"


def origin(stack: Stack) -> str:
    return stack.base_url.removesuffix("/v1")


def browser(stack: Stack) -> httpx.Client:
    """A cookie-keeping client that does not follow redirects, so tests see the 303s."""
    return httpx.Client(base_url=origin(stack), timeout=30, follow_redirects=False)


@contextmanager
def signed_in(stack: Stack, key: str) -> Iterator[httpx.Client]:
    """A browser signed in with `key` (the login form, as a person would)."""
    with browser(stack) as http:
        response = http.post("/ui/login", data={"api_key": key})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/ui"
        assert http.cookies.get(COOKIE) == hashlib.sha256(key.encode()).hexdigest()
        yield http


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def submit(
    client: OpenAI,
    lines: list[dict[str, Any]],
    *,
    metadata: dict[str, str] | None = None,
    filename: str = "input.jsonl",
) -> Batch:
    uploaded = client.files.create(file=(filename, jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=metadata,
    )


def finished_batch(client: OpenAI, *, failing: int = 0, total: int = 3) -> Batch:
    """A completed batch with `total` lines, the first `failing` of them answered with a 400."""
    lines = [
        chat_line(f"r{i}", {"fail_times": -1, "status": 400} if i < failing else None)
        for i in range(total)
    ]
    return wait_for(client, submit(client, lines).id)


def slow_batch(client: OpenAI, lines: int = 4, latency_ms: int = 5000) -> Batch:
    """A batch that stays in_progress for a while (each line takes `latency_ms` upstream)."""
    batch = submit(client, [chat_line(f"s{i}", {"latency_ms": latency_ms}) for i in range(lines)])
    return wait_for(client, batch.id, lambda b: b.status == "in_progress", timeout=30)


def keys_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(
        BATCHGATE_DATABASE_URL=stack.database_url, BATCHGATE_DATA_DIR=stack.server.log.parent
    )
    return subprocess.run(
        [*BATCHGATE, "keys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def unknown_like(object_id: str) -> str:
    """An id of the same shape that nobody has."""
    prefix = "file-" if object_id.startswith("file-") else "batch_"
    return prefix + "0" * (len(object_id) - len(prefix))
