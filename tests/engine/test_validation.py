"""Batch validation (openai-contract.md §2, §4) against a live `batchgate serve`, on SQLite and
PostgreSQL: every rule fails the batch with the right code, param and physical line number;
a valid batch walks validating -> in_progress -> completed with its timestamps in order."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import pytest
from openai import OpenAI
from openai.types import Batch

from batchgate.engine.context import EngineConfig
from support.batch_files import Item, check_result_files, create, line_numbers, lines_of
from support.batches import chat_line, wait_for
from support.stacks import TEST_SETTINGS, Stack

MAX_LINES = int(TEST_SETTINGS["BATCHGATE_MAX_BATCH_LINES"])
MAX_ERRORS = EngineConfig().max_validation_errors


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> OpenAI:
    """One tenant for the module: the stack's bootstrap key pool is small."""
    return stack.client()


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def good(custom_id: str | None = None, **body: Any) -> dict[str, Any]:
    return chat_line(custom_id or uid("ok"), **body)


def failed(client: OpenAI, items: list[Item]) -> Batch:
    created = create(client, items)
    assert created.status == "validating"
    batch = wait_for(client, created.id, timeout=30)
    assert batch.status == "failed", batch
    assert batch.failed_at is not None
    assert batch.created_at <= batch.failed_at
    assert batch.in_progress_at is None
    assert batch.output_file_id is None
    assert batch.error_file_id is None
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (0, 0)
    assert batch.request_counts.failed == 0
    assert batch.errors is not None
    assert batch.errors.object == "list"
    assert batch.errors.data
    return batch


def only_error(batch: Batch) -> tuple[str | None, str | None, int | None]:
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert len(batch.errors.data) == 1, batch.errors.data
    error = batch.errors.data[0]
    assert error.message
    return error.code, error.param, error.line


def bad_third_line(bad: Item) -> list[Item]:
    """The bad line is physical line 3 of 4, after a blank line (it is the 2nd request)."""
    return [good(), None, bad, good()]


#: as a `mutated` value: remove the key
_DROP = object()


def mutated(**changes: Any) -> dict[str, Any]:
    line = copy.deepcopy(good())
    for key, value in changes.items():
        if value is _DROP:
            del line[key]
        else:
            line[key] = value
    return line


@pytest.mark.parametrize("name", ["custom_id", "method", "url", "body"])
def test_missing_top_level_field(tenant: OpenAI, name: str) -> None:
    batch = failed(tenant, bad_third_line(mutated(**{name: _DROP})))
    assert only_error(batch) == ("missing_required_parameter", name, 3)


def test_null_custom_id_is_missing(tenant: OpenAI) -> None:
    batch = failed(tenant, bad_third_line(mutated(custom_id=None)))
    assert only_error(batch) == ("missing_required_parameter", "custom_id", 3)


@pytest.mark.parametrize("custom_id", [7, "", ["a"], {"id": "a"}, True])
def test_invalid_custom_id(tenant: OpenAI, custom_id: Any) -> None:
    batch = failed(tenant, bad_third_line(mutated(custom_id=custom_id)))
    assert only_error(batch) == ("invalid_custom_id", "custom_id", 3)


def test_duplicate_custom_id_reports_second_occurrence(tenant: OpenAI) -> None:
    dup = uid("dup")
    batch = failed(tenant, [good(dup), None, good(), None, good(dup), good()])
    code, param, line = only_error(batch)
    assert (code, param, line) == ("duplicate_custom_id", "custom_id", 5)
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert dup in (batch.errors.data[0].message or "")


@pytest.mark.parametrize("method", ["GET", "DELETE", 1])
def test_method_not_post(tenant: OpenAI, method: Any) -> None:
    batch = failed(tenant, bad_third_line(mutated(method=method)))
    assert only_error(batch) == ("invalid_method", "method", 3)


@pytest.mark.parametrize(
    "url", ["/v1/embeddings", "/v1/chat/completions/", "v1/chat/completions", "/chat/completions"]
)
def test_url_not_the_batch_endpoint(tenant: OpenAI, url: str) -> None:
    batch = failed(tenant, bad_third_line(mutated(url=url)))
    assert only_error(batch) == ("url_mismatch", "url", 3)


@pytest.mark.parametrize("body", ["a string", [1, 2], 5, True])
def test_body_not_an_object(tenant: OpenAI, body: Any) -> None:
    batch = failed(tenant, bad_third_line(mutated(body=body)))
    assert only_error(batch) == ("invalid_body", "body", 3)


@pytest.mark.parametrize("model", [_DROP, None, "", 12])
def test_body_without_model(tenant: OpenAI, model: Any) -> None:
    line = good()
    if model is _DROP:
        del line["body"]["model"]
    else:
        line["body"]["model"] = model
    batch = failed(tenant, bad_third_line(line))
    assert only_error(batch) == ("missing_required_parameter", "body.model", 3)


def test_stream_true_is_rejected(tenant: OpenAI) -> None:
    batch = failed(tenant, bad_third_line(good(stream=True)))
    assert only_error(batch) == ("streaming_unsupported", "body.stream", 3)


def test_mismatched_model_reports_first_deviant(tenant: OpenAI) -> None:
    batch = failed(tenant, [good(), None, good(model="other-model"), good()])
    code, param, line = only_error(batch)
    assert (code, param, line) == ("mismatched_model", "body.model", 3)
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert "other-model" in (batch.errors.data[0].message or "")


def test_more_lines_than_the_cap(tenant: OpenAI) -> None:
    # a blank first line: the reported line is physical (MAX_LINES + 2), not the request count
    batch = failed(tenant, [None, *lines_of(MAX_LINES + 1, uid("cap"))])
    code, _, line = only_error(batch)
    assert (code, line) == ("too_many_requests", MAX_LINES + 2)


def test_exactly_the_cap_is_accepted(tenant: OpenAI) -> None:
    created = create(tenant, lines_of(MAX_LINES, uid("cap-ok"), {"latency_ms": 200}))
    batch = wait_for(tenant, created.id, lambda b: b.status != "validating", timeout=30)
    tenant.batches.cancel(created.id)  # the upstream calls are not the point here
    assert batch.status in ("in_progress", "completed"), batch
    assert batch.errors is None
    assert batch.request_counts is not None
    assert batch.request_counts.total == MAX_LINES
    assert wait_for(tenant, created.id, timeout=30).status in ("cancelled", "completed")


def test_every_error_is_listed_with_its_line(tenant: OpenAI) -> None:
    first = uid("first")
    items: list[Item] = [
        good(first),  # 1
        mutated(custom_id=_DROP),  # 2
        None,  # 3
        mutated(method="GET"),  # 4
        mutated(url="/v1/embeddings"),  # 5
        good(first),  # 6 duplicate
        good(),  # 7 fine
        good(stream=True),  # 8
        mutated(body="x"),  # 9
        good(model="other"),  # 10
        None,  # 11
        mutated(custom_id=""),  # 12
    ]
    batch = failed(tenant, items)
    assert batch.errors is not None
    assert batch.errors.data is not None
    listed = [(e.code, e.param, e.line) for e in batch.errors.data]
    assert listed == [
        ("missing_required_parameter", "custom_id", 2),
        ("invalid_method", "method", 4),
        ("url_mismatch", "url", 5),
        ("duplicate_custom_id", "custom_id", 6),
        ("streaming_unsupported", "body.stream", 8),
        ("invalid_body", "body", 9),
        ("mismatched_model", "body.model", 10),
        ("invalid_custom_id", "custom_id", 12),
    ]
    assert all(e.message for e in batch.errors.data)


def test_error_list_is_capped(tenant: OpenAI) -> None:
    assert MAX_ERRORS == 100
    items: list[Item] = [good()]
    for i in range(150):
        items += [None, mutated(method="GET", custom_id=f"bad-{i}")]
    batch = failed(tenant, items)
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert len(batch.errors.data) == MAX_ERRORS
    assert [e.line for e in batch.errors.data] == [3 + 2 * i for i in range(MAX_ERRORS)]
    assert {e.code for e in batch.errors.data} == {"invalid_method"}


# --- a valid batch ----------------------------------------------------------------------------


def test_valid_batch_lifecycle(tenant: OpenAI) -> None:
    prefix = uid("life")
    slow = {"latency_ms": 1200}  # long enough to see in_progress at a 0.2 s poll
    items: list[Item] = [
        None,
        chat_line(f"{prefix}-0", slow),
        chat_line(f"{prefix}-1", slow, stream=False),
        None,
        None,
        chat_line(f"{prefix}-2", slow),
        chat_line(f"{prefix}-3", slow, model="test-model"),
        None,
    ]
    created = create(tenant, items)
    assert created.status == "validating"
    assert created.model is None
    assert created.in_progress_at is None
    assert created.errors is None
    assert created.expires_at == created.created_at + 86400
    assert created.request_counts is not None
    assert (created.request_counts.total, created.request_counts.completed) == (0, 0)

    running = wait_for(tenant, created.id, lambda b: b.status != "validating", timeout=30)
    assert running.status == "in_progress", running
    assert running.in_progress_at is not None
    assert running.model == "test-model"
    assert running.request_counts is not None
    assert running.request_counts.total == 4
    assert running.finalizing_at is None
    assert running.completed_at is None

    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "completed", done
    assert done.errors is None
    assert done.failed_at is None
    assert done.cancelled_at is None
    assert done.expired_at is None
    assert done.in_progress_at == running.in_progress_at
    assert done.finalizing_at is not None
    assert done.completed_at is not None
    assert done.created_at <= done.in_progress_at <= done.finalizing_at <= done.completed_at
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (4, 4)
    assert done.request_counts.failed == 0
    assert done.error_file_id is None
    assert done.usage is not None
    assert done.usage.total_tokens > 0

    got = check_result_files(tenant, done, line_numbers(items))
    assert [x["custom_id"] for x in got.output] == [f"{prefix}-{i}" for i in range(4)]
    for line in got.output:
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["object"] == "chat.completion"
        assert line["response"]["body"]["model"] == "test-model"
    assert got.output_file is not None
    assert got.output_file.created_at == done.completed_at


def test_output_expires_after_sets_file_ttl(tenant: OpenAI) -> None:
    prefix = uid("ttl")
    items: list[Item] = [
        chat_line(f"{prefix}-ok"),
        None,
        chat_line(f"{prefix}-bad", {"fail_times": -1, "status": 400}),
    ]
    created = create(tenant, items, output_expires_after={"anchor": "created_at", "seconds": 7200})
    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "completed", done
    got = check_result_files(tenant, done, line_numbers(items), ttl=7200)
    assert got.output_file is not None
    assert got.error_file is not None
    assert [x["custom_id"] for x in got.output] == [f"{prefix}-ok"]
    assert [x["custom_id"] for x in got.errors] == [f"{prefix}-bad"]
    assert got.errors[0]["response"]["status_code"] == 400
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
