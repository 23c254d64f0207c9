"""Tenant isolation: another tenant's objects are indistinguishable from ids that never existed.

For every operation, key B on key A's object must get exactly what B gets for an unknown id of
the same shape (status, type, param, code, and the message with the id blanked out), and A's
objects must be untouched afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from support.api import (
    assert_error,
    create_embeddings_batch,
    embedding_lines,
    jsonl,
    new_client,
    settle,
    wait_for_batch,
)
from support.stacks import Stack

DATA = jsonl(embedding_lines(2))


def unknown_like(object_id: str) -> str:
    """An id of the same shape that nobody has: `file-…` / `batch_…` with the random part zeroed."""
    prefix = "file-" if object_id.startswith("file-") else "batch_"
    return prefix + "0" * (len(object_id) - len(prefix))


def assert_looks_unknown(call: Callable[[str], Any], foreign_id: str) -> None:
    errors = []
    for object_id in (foreign_id, unknown_like(foreign_id)):
        with pytest.raises(openai.NotFoundError) as caught:
            call(object_id)
        error = assert_error(caught.value.response, 404, param="id")
        assert object_id in error["message"]
        errors.append({**error, "message": error["message"].replace(object_id, "<id>")})
    assert errors[0] == errors[1]


class TestFiles:
    def test_list_shows_only_own_files(self, stack: Stack) -> None:
        alice, bob = new_client(stack), new_client(stack)
        theirs = alice.files.create(file=("a.jsonl", DATA), purpose="batch")
        mine = bob.files.create(file=("b.jsonl", DATA), purpose="batch")
        assert [f.id for f in bob.files.list()] == [mine.id]
        assert [f.id for f in bob.files.list(purpose="batch", order="asc")] == [mine.id]
        # a foreign id as the cursor is only a position: still nothing of alice's
        assert [f.id for f in bob.files.list(after=theirs.id, order="asc")] == [mine.id]
        assert [f.id for f in alice.files.list()] == [theirs.id]

    def test_retrieve_content_delete_look_unknown(self, stack: Stack) -> None:
        alice, bob = new_client(stack), new_client(stack)
        theirs = alice.files.create(file=("a.jsonl", DATA), purpose="batch")
        assert_looks_unknown(bob.files.retrieve, theirs.id)
        assert_looks_unknown(bob.files.content, theirs.id)
        assert_looks_unknown(bob.files.delete, theirs.id)

        assert alice.files.retrieve(theirs.id).model_dump() == theirs.model_dump()
        assert alice.files.content(theirs.id).content == DATA
        assert [f.id for f in alice.files.list()] == [theirs.id]


class TestBatches:
    def test_list_shows_only_own_batches(self, stack: Stack) -> None:
        alice, bob = new_client(stack), new_client(stack)
        theirs = create_embeddings_batch(alice)
        assert list(bob.batches.list()) == []
        assert list(bob.batches.list(after=theirs.id)) == []
        assert [b.id for b in alice.batches.list()] == [theirs.id]
        settle(alice, [theirs.id])

    def test_retrieve_and_cancel_look_unknown(self, stack: Stack) -> None:
        alice, bob = new_client(stack), new_client(stack)
        theirs = create_embeddings_batch(
            alice, embedding_lines(2, x_fake={"latency_ms": 300}), metadata={"owner": "alice"}
        )
        assert_looks_unknown(bob.batches.retrieve, theirs.id)
        assert_looks_unknown(bob.batches.cancel, theirs.id)

        done = wait_for_batch(alice, theirs.id)
        assert done.status == "completed"  # bob's cancel did not reach it
        assert done.cancelling_at is None
        assert done.metadata == {"owner": "alice"}
        assert done.request_counts is not None
        assert done.request_counts.completed == 2

    def test_output_files_are_private(self, stack: Stack) -> None:
        alice, bob = new_client(stack), new_client(stack)
        batch = create_embeddings_batch(alice)
        (done,) = settle(alice, [batch.id])
        assert done.output_file_id is not None
        output = alice.files.content(done.output_file_id).content
        assert_looks_unknown(bob.files.retrieve, done.output_file_id)
        assert_looks_unknown(bob.files.content, done.output_file_id)
        assert_looks_unknown(bob.files.delete, done.output_file_id)
        assert list(bob.files.list(purpose="batch_output")) == []
        assert alice.files.content(done.output_file_id).content == output
        assert alice.files.retrieve(batch.input_file_id).purpose == "batch"
