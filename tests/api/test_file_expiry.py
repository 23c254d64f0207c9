"""Expired files stop being served at once and their bytes are purged by the reconciler."""

from __future__ import annotations

import time

import openai
import pytest

from support.db import execute
from support.stacks import Stack


def stored_objects(stack: Stack) -> set[str]:
    root = stack.server.log.parent / "data" / "files" / "files"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_expired_file_is_hidden_then_purged(stack: Stack) -> None:
    client = stack.client()
    uploaded = client.files.create(
        file=("notes.txt", b"some bytes"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert uploaded.expires_at == uploaded.created_at + 3600
    assert uploaded.id in stored_objects(stack)

    # an hour passes
    execute(
        stack.database_url,
        "UPDATE files SET expires_at = :t WHERE id = :id",
        t=int(time.time()) - 1,
        id=uploaded.id,
    )

    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)
    assert uploaded.id not in [f.id for f in client.files.list()]

    deadline = time.monotonic() + 10
    while uploaded.id in stored_objects(stack) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert uploaded.id not in stored_objects(stack)
    (key,) = execute(
        stack.database_url, "SELECT storage_key FROM files WHERE id = :id", id=uploaded.id
    )[0]
    assert key is None
