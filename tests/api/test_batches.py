"""`/v1/batches` through the official `openai` SDK: create, list, retrieve, cancel, complete.

Every test waits for the batches it started to end (`settle`), so nothing keeps running into
the next test.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import uuid4

import openai
import pytest
from openai.types import Batch

from support.api import (
    assert_error,
    create_embeddings_batch,
    embedding_lines,
    jsonl,
    new_client,
    new_key,
    raw_http,
    settle,
    upload_batch_input,
    wait_for_batch,
    wait_for_upstream,
)
from support.stacks import Stack

# openai-contract.md §2, in the order of the SPEC and GUIDE examples
BATCH_KEYS = [
    "id",
    "object",
    "endpoint",
    "model",
    "errors",
    "input_file_id",
    "completion_window",
    "status",
    "output_file_id",
    "error_file_id",
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
    "request_counts",
    "usage",
    "metadata",
]
UNSET_AT_CREATE = [
    "model",
    "errors",
    "output_file_id",
    "error_file_id",
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
]
ZERO_USAGE = {
    "input_tokens": 0,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 0,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 0,
}


def slow_lines(count: int, key: str = "", latency_ms: int = 800) -> list[dict[str, Any]]:
    """Embedding lines the fake upstream answers only after `latency_ms` (counted under
    `x_fake.key`): the batch stays `in_progress` long enough to be cancelled."""
    return embedding_lines(count, x_fake={"key": key or uuid4().hex, "latency_ms": latency_ms})


def chat_line(custom_id: str, text: str, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "chat-small", "messages": [{"role": "user", "content": text}], **body},
    }


def run_chat_batch_with_a_400(client: openai.OpenAI) -> Batch:
    """Two good chat lines and one the upstream answers with a 400, run to the end."""
    lines = [
        chat_line("ok-1", "hello there"),
        chat_line("ok-2", "general kenobi"),
        chat_line("bad", "too long", x_fake={"fail_times": -1, "status": 400}),
    ]
    upload = client.files.create(file=("chat.jsonl", jsonl(lines)), purpose="batch")
    batch = client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    return wait_for_batch(client, batch.id)


class TestCreate:
    def test_raw_batch_object_has_every_field(self, stack: Stack) -> None:
        key = new_key(stack)
        client = new_client(stack, key)
        upload = upload_batch_input(client)
        metadata = {"customer_id": "user_123", "batch_description": "Nightly eval job"}
        before = int(time.time())
        with raw_http(stack, key) as http:
            response = http.post(
                "batches",
                json={
                    "input_file_id": upload.id,
                    "endpoint": "/v1/embeddings",
                    "completion_window": "24h",
                    "metadata": metadata,
                },
            )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert list(body) == BATCH_KEYS
        assert body["id"].startswith("batch_")
        assert body["object"] == "batch"
        assert body["endpoint"] == "/v1/embeddings"
        assert body["input_file_id"] == upload.id
        assert body["completion_window"] == "24h"
        assert body["status"] == "validating"
        assert before - 1 <= body["created_at"] <= int(time.time()) + 1
        assert body["expires_at"] == body["created_at"] + 86400
        assert {k: body[k] for k in UNSET_AT_CREATE} == dict.fromkeys(UNSET_AT_CREATE)
        assert body["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
        assert body["usage"] == ZERO_USAGE
        assert body["metadata"] == metadata
        settle(client, [body["id"]])

    def test_sdk_create_without_metadata(self, stack: Stack) -> None:
        client = new_client(stack)
        batch = create_embeddings_batch(client)
        assert batch.status == "validating"
        assert batch.metadata is None
        assert batch.request_counts is not None
        assert (batch.request_counts.total, batch.request_counts.completed) == (0, 0)
        assert batch._request_id is not None
        settle(client, [batch.id])

    def test_short_completion_window(self, stack: Stack) -> None:
        client = new_client(stack)
        batch = create_embeddings_batch(client, completion_window="4s")
        assert batch.completion_window == "4s"
        assert batch.expires_at == batch.created_at + 4
        (ended,) = settle(client, [batch.id])
        assert ended.status in ("completed", "expired")
        assert ended.completion_window == "4s"
        assert ended.expires_at == batch.expires_at

    def test_one_input_file_serves_several_batches(self, stack: Stack) -> None:
        client = new_client(stack)
        upload = upload_batch_input(client)
        ids = [
            client.batches.create(
                input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h"
            ).id
            for _ in range(2)
        ]
        assert len(set(ids)) == 2
        assert [b.status for b in settle(client, ids)] == ["completed", "completed"]


class TestRetrieve:
    def test_retrieve_matches_create(self, stack: Stack) -> None:
        client = new_client(stack)
        batch = create_embeddings_batch(client, metadata={"k": "v"})
        retrieved = client.batches.retrieve(batch.id)
        for name in ("id", "endpoint", "input_file_id", "completion_window", "created_at"):
            assert getattr(retrieved, name) == getattr(batch, name)
        assert retrieved.expires_at == batch.expires_at
        assert retrieved.metadata == {"k": "v"}
        settle(client, [batch.id])

    def test_unknown_batch(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.NotFoundError) as caught:
            client.batches.retrieve("batch_does_not_exist")
        assert_error(caught.value.response, 404, param="id")
        assert "batch_does_not_exist" in caught.value.body["message"]  # type: ignore[index]


class TestList:
    def test_newest_first_with_auto_pagination(self, stack: Stack) -> None:
        client = new_client(stack)
        upload = upload_batch_input(client)
        ids = [
            client.batches.create(
                input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h"
            ).id
            for _ in range(5)
        ]
        assert [b.id for b in client.batches.list(limit=2)] == ids[::-1]
        pages = list(client.batches.list(limit=2).iter_pages())
        assert [[b.id for b in p.data] for p in pages] == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
        assert [p.has_more for p in pages] == [True, True, False]
        default = client.batches.list()
        assert [b.id for b in default.data] == ids[::-1]
        assert default.has_more is False
        settle(client, ids)

    def test_raw_list_json_and_exact_has_more(self, stack: Stack) -> None:
        key = new_key(stack)
        client = new_client(stack, key)
        upload = upload_batch_input(client)
        ids = [
            client.batches.create(
                input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h"
            ).id
            for _ in range(3)
        ][::-1]
        with raw_http(stack, key) as http:
            first = http.get("batches", params={"limit": 2}).json()
            rest = http.get("batches", params={"limit": 2, "after": ids[1]}).json()
            exact = http.get("batches", params={"limit": 3}).json()
        assert first["object"] == "list"
        assert [b["id"] for b in first["data"]] == ids[:2]
        assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[0], ids[1], True)
        assert [b["id"] for b in rest["data"]] == ids[2:]
        assert (rest["first_id"], rest["last_id"], rest["has_more"]) == (ids[2], ids[2], False)
        assert [b["id"] for b in exact["data"]] == ids
        assert exact["has_more"] is False
        assert all(list(b) == BATCH_KEYS for b in exact["data"])
        settle(client, ids)

    def test_empty_list(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            body = http.get("batches").json()
        assert body == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }


class TestCancel:
    def test_cancel_in_progress_then_cancelled(self, stack: Stack) -> None:
        client = new_client(stack)
        key = uuid4().hex
        batch = create_embeddings_batch(client, slow_lines(2, key))
        wait_for_upstream(stack, key)  # in_progress, with a request in flight
        assert client.batches.retrieve(batch.id).status == "in_progress"
        cancelling = client.batches.cancel(batch.id)
        assert cancelling.status == "cancelling"
        assert cancelling.cancelling_at is not None
        assert cancelling.cancelling_at >= batch.created_at
        assert cancelling.cancelled_at is None

        cancelled = wait_for_batch(client, batch.id)
        assert cancelled.status == "cancelled"
        assert cancelled.cancelling_at == cancelling.cancelling_at
        assert cancelled.cancelled_at is not None
        assert cancelled.cancelled_at >= cancelled.cancelling_at
        assert cancelled.completed_at is None
        assert cancelled.request_counts is not None
        assert cancelled.request_counts.total == 2

    def test_cancel_right_after_create(self, stack: Stack) -> None:
        client = new_client(stack)
        batch = create_embeddings_batch(client, slow_lines(1))
        cancelling = client.batches.cancel(batch.id)  # still validating, or just in_progress
        assert cancelling.status == "cancelling"
        assert cancelling.cancelling_at is not None
        assert wait_for_batch(client, batch.id).status == "cancelled"

    def test_cancel_while_cancelling_is_a_no_op(self, stack: Stack) -> None:
        client = new_client(stack)
        key = uuid4().hex
        batch = create_embeddings_batch(client, slow_lines(1, key, latency_ms=1000))
        wait_for_upstream(stack, key)  # the line is in flight: cancelling lasts until it ends
        first = client.batches.cancel(batch.id)
        again = client.batches.cancel(batch.id)
        assert (first.status, again.status) == ("cancelling", "cancelling")
        assert again.cancelling_at == first.cancelling_at
        assert wait_for_batch(client, batch.id).status == "cancelled"

    def test_cancel_a_cancelled_batch_is_400(self, stack: Stack) -> None:
        client = new_client(stack)
        batch = create_embeddings_batch(client, slow_lines(1))
        client.batches.cancel(batch.id)
        cancelled = wait_for_batch(client, batch.id)
        assert cancelled.status == "cancelled"
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.cancel(batch.id)
        assert_error(caught.value.response, 400, contains=["cancelled"])
        # never a status the SDK retries, and told not to retry
        assert caught.value.response.headers["x-should-retry"] == "false"
        assert client.batches.retrieve(batch.id).model_dump() == cancelled.model_dump()

    def test_cancel_a_completed_batch_is_400(self, stack: Stack) -> None:
        client = new_client(stack)
        batch = create_embeddings_batch(client)
        (completed,) = settle(client, [batch.id])
        assert completed.status == "completed"
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.cancel(batch.id)
        assert_error(caught.value.response, 400, contains=["completed"])
        assert client.batches.retrieve(batch.id).status == "completed"

    def test_cancel_unknown_batch_is_404(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.NotFoundError) as caught:
            client.batches.cancel("batch_nope")
        assert_error(caught.value.response, 404, param="id", contains=["batch_nope"])


class TestLifecycle:
    def test_embeddings_batch_completes(self, stack: Stack) -> None:
        client = new_client(stack)
        lines = embedding_lines(3)
        batch = create_embeddings_batch(client, lines)
        done = wait_for_batch(client, batch.id)
        assert done.status == "completed", done
        assert done.model == "emb"
        assert done.request_counts is not None
        assert done.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
        assert done.usage is not None
        assert done.usage.input_tokens > 0
        assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens
        assert done.in_progress_at is not None
        assert done.finalizing_at is not None
        assert done.completed_at is not None
        assert done.created_at <= done.in_progress_at <= done.finalizing_at <= done.completed_at
        assert done.failed_at is done.cancelled_at is done.expired_at is None
        assert done.errors is None
        assert done.error_file_id is None
        assert done.output_file_id is not None

        output_file = client.files.retrieve(done.output_file_id)
        assert output_file.purpose == "batch_output"
        output = [json.loads(x) for x in client.files.content(output_file.id).text.splitlines()]
        assert output_file.bytes == len(client.files.content(output_file.id).content)
        assert sorted(o["custom_id"] for o in output) == ["r0", "r1", "r2"]
        for line in output:
            assert set(line) == {"id", "custom_id", "response", "error"}
            assert line["id"].startswith("batch_req_")
            assert line["error"] is None
            assert line["response"]["status_code"] == 200
            assert line["response"]["body"]["object"] == "list"

    def test_invalid_lines_fail_validation(self, stack: Stack) -> None:
        key = new_key(stack)
        client = new_client(stack, key)
        lines = embedding_lines(3)
        lines[1]["url"] = "/v1/chat/completions"  # line 2: not the batch's endpoint
        lines[2]["custom_id"] = "r0"  # line 3: duplicate custom_id
        batch = create_embeddings_batch(client, lines)
        assert batch.status == "validating"  # validation is asynchronous
        failed = wait_for_batch(client, batch.id)
        assert failed.status == "failed"
        assert failed.failed_at is not None
        assert failed.failed_at >= failed.created_at
        assert failed.in_progress_at is None
        assert failed.output_file_id is failed.error_file_id is None
        with raw_http(stack, key) as http:
            errors = http.get(f"batches/{batch.id}").json()["errors"]
        assert errors["object"] == "list"
        assert [(e["line"], e["param"]) for e in errors["data"]] == [(2, "url"), (3, "custom_id")]
        assert [e["code"] for e in errors["data"]] == ["url_mismatch", "duplicate_custom_id"]
        assert all(set(e) == {"code", "message", "param", "line"} for e in errors["data"])
        assert "'r0'" in errors["data"][1]["message"]

    def test_chat_batch_with_a_failing_line(self, stack: Stack) -> None:
        client = new_client(stack)
        done = run_chat_batch_with_a_400(client)
        assert done.status == "completed", done
        assert done.request_counts is not None
        assert done.request_counts.model_dump() == {"total": 3, "completed": 2, "failed": 1}
        assert done.output_file_id is not None
        assert done.error_file_id is not None

        output = {
            o["custom_id"]: o
            for o in map(json.loads, client.files.content(done.output_file_id).text.splitlines())
        }
        assert set(output) == {"ok-1", "ok-2"}
        reply = output["ok-1"]["response"]["body"]["choices"][0]["message"]["content"]
        assert reply == "echo: hello there"
        errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
        assert [e["custom_id"] for e in errors] == ["bad"]
        assert errors[0]["response"]["status_code"] == 400
        assert errors[0]["response"]["body"]["error"]["code"] == "context_length_exceeded"

    def test_http_error_line_has_response_and_error(self, stack: Stack) -> None:
        # Deliberately beyond contract §5 (issue "The batch engine", item 5): clients written
        # against OpenAI read `response`, clients written against other providers read
        # `error.message` -- an HTTP error line carries both.
        client = new_client(stack)
        done = run_chat_batch_with_a_400(client)
        assert done.error_file_id is not None
        (line,) = [
            json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()
        ]
        assert line["response"]["status_code"] == 400
        body_error = line["response"]["body"]["error"]
        assert line["error"] == {"code": body_error["code"], "message": body_error["message"]}
