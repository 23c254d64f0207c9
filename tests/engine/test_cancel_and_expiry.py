"""Cancel and expiry against a live `batchgate serve` (SQLite and PostgreSQL): what ran is in the
output file, what never ran is a `batch_cancelled` / `batch_expired` line in the error file,
each custom_id exactly once, and nothing already answered is sent upstream again."""

from __future__ import annotations

import secrets
import time

import openai
import pytest
from openai import OpenAI
from openai.types import Batch

from support.batch_files import (
    Item,
    check_result_files,
    create,
    line_numbers,
    line_states,
    lines_of,
)
from support.batches import chat_line, wait_for
from support.procs import FakeUpstream
from support.stacks import Stack


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> OpenAI:
    """One tenant for the module: the stack's bootstrap key pool is small."""
    return stack.client()


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def answered(batch: Batch) -> int:
    counts = batch.request_counts
    return 0 if counts is None else counts.completed + counts.failed


def calls(upstream: FakeUpstream, prefix: str) -> dict[str, int]:
    """Upstream requests per custom_id (the fake counts by the body's `user` = custom_id)."""
    by_key: dict[str, int] = upstream.stats()["by_key"]
    return {key: count for key, count in by_key.items() if key.startswith(f"{prefix}-")}


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_mid_run(stack: Stack, tenant: OpenAI) -> None:
    n, prefix = 300, uid("cancel")
    items = lines_of(n, prefix, {"latency_ms": 300})
    created = create(tenant, items)
    wait_for(tenant, created.id, lambda b: answered(b) >= 1, timeout=30)

    cancelling = tenant.batches.cancel(created.id)
    assert cancelling.status == "cancelling", cancelling
    assert cancelling.cancelling_at is not None
    assert cancelling.cancelled_at is None
    assert answered(cancelling) < n
    # a claim racing the cancel may still send its lines; by now any such send has arrived
    time.sleep(0.1)
    sent_after_cancel = sum(calls(stack.upstream, prefix).values())

    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "cancelled", done
    assert done.cancelled_at is not None
    assert done.cancelling_at == cancelling.cancelling_at
    assert done.cancelling_at <= done.cancelled_at
    assert done.completed_at is None
    assert done.expired_at is None
    assert done.failed_at is None
    assert done.request_counts is not None
    assert done.request_counts.total == n

    got = check_result_files(tenant, done, line_numbers(items))
    cancelled = got.not_run("batch_cancelled")
    assert len(got.output) + len(cancelled) == n
    assert {x["custom_id"] for x in got.all} == {f"{prefix}-{i}" for i in range(n)}
    assert got.output, "lines answered before the cancel are kept"
    assert cancelled, "lines not started before the cancel are reported"
    for line in got.output:
        assert line["response"]["status_code"] == 200
    for line in cancelled:
        assert line["response"] is None
        assert line["error"]["message"]

    sent = calls(stack.upstream, prefix)
    # what ran was sent once (an answered line is never sent again) ...
    assert all(sent.get(x["custom_id"]) == 1 for x in got.output), sent
    # ... and what is reported as cancelled never reached the upstream
    assert not [x["custom_id"] for x in cancelled if x["custom_id"] in sent]
    # once the batch is cancelling no new line is claimed: what was in flight finishes, and so
    # may the reserve a worker claims ahead of free slots (half the upstream's concurrency,
    # 64 by default) -- nothing beyond that
    reserve = 64 // 2
    assert 0 <= sum(sent.values()) - sent_after_cancel <= reserve, (
        sum(sent.values()),
        sent_after_cancel,
    )


def test_cancel_while_validating(stack: Stack, tenant: OpenAI) -> None:
    # the largest file allowed, so validation is likely still running when the cancel arrives
    n, prefix = 3000, uid("cancel-val")
    items: list[Item] = [None, *lines_of(n, prefix, {"latency_ms": 300})]
    created = create(tenant, items)
    cancelling = tenant.batches.cancel(created.id)
    assert cancelling.status == "cancelling", cancelling
    assert cancelling.in_progress_at is None  # it was still validating

    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "cancelled", done
    assert done.cancelled_at is not None
    assert done.in_progress_at is None  # it never started
    assert done.errors is None
    assert done.output_file_id is None
    assert done.request_counts is not None
    assert done.request_counts.completed == done.request_counts.failed == 0
    got = check_result_files(tenant, done, line_numbers(items))
    assert not got.output
    assert len(got.not_run("batch_cancelled")) == len(got.errors)
    # Two consistent endings, depending on whether validation got to the batch first: every
    # request listed as batch_cancelled, or (cancelled before validation began) no files and
    # no requests at all. Either way the line rows agree with the Batch object and the file.
    states = line_states(stack.database_url, created.id)
    if done.error_file_id is None:
        assert done.request_counts.total == 0
        assert states == {}
    else:
        assert done.request_counts.total == n
        assert {x["custom_id"] for x in got.errors} == {f"{prefix}-{i}" for i in range(n)}
        assert states == {"cancelled": n}
    time.sleep(0.5)  # a line claimed by mistake would be in flight by now
    assert calls(stack.upstream, prefix) == {}


def test_cancel_finished_batch_is_refused(tenant: OpenAI) -> None:
    created = create(tenant, [chat_line(uid("fin"))])
    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError) as raised:
        tenant.batches.cancel(created.id)
    assert raised.value.code == "batch_not_cancellable"
    assert tenant.batches.retrieve(created.id).status == "completed"


# --- expiry -----------------------------------------------------------------------------------


def test_expiry_keeps_partial_output(stack: Stack, tenant: OpenAI) -> None:
    # 600 lines x 1.5 s at 64 in flight needs ~15 s: it cannot finish in a 4 s window
    n, prefix = 600, uid("expire")
    items = lines_of(n, prefix, {"latency_ms": 1500})
    created = create(tenant, items, window="4s")
    assert created.completion_window == "4s"
    assert created.expires_at == created.created_at + 4

    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "expired", done
    assert done.expired_at is not None
    assert done.expires_at is not None
    assert done.expired_at >= done.expires_at
    assert done.expired_at <= done.expires_at + 3  # found promptly, not at some later sweep
    assert done.in_progress_at is not None
    assert done.completed_at is None
    assert done.cancelled_at is None
    assert done.request_counts is not None
    assert done.request_counts.total == n

    got = check_result_files(tenant, done, line_numbers(items))
    expired = got.not_run("batch_expired")
    assert len(got.output) + len(expired) == n == len(got.all)
    assert {x["custom_id"] for x in got.all} == {f"{prefix}-{i}" for i in range(n)}
    assert got.output, "lines answered before the deadline are kept"
    assert expired, "lines not run by the deadline are reported"
    assert done.request_counts.completed == len(got.output)
    assert done.request_counts.failed == 0
    for line in expired:
        assert line["response"] is None
        assert "completion window" in line["error"]["message"]
    sent = calls(stack.upstream, prefix)
    assert all(sent.get(x["custom_id"]) == 1 for x in got.output)
    assert max(sent.values()) == 1


def test_retry_is_not_scheduled_past_the_deadline(stack: Stack, tenant: OpenAI) -> None:
    prefix = uid("deadline")
    items: list[Item] = [
        # wants a retry in 30 s: past the 4 s deadline, so it fails now instead of waiting
        chat_line(f"{prefix}-late", {"fail_times": 1, "status": 429, "retry_after": 30}),
        None,
        # wants a retry in 1 s: inside the window, so it is retried and succeeds
        chat_line(f"{prefix}-soon", {"fail_times": 1, "status": 429, "retry_after": 1}),
        chat_line(f"{prefix}-ok"),
    ]
    created = create(tenant, items, window="4s")
    done = wait_for(tenant, created.id, timeout=30)
    assert done.status == "completed", done
    assert done.completed_at is not None
    assert done.expires_at is not None
    assert done.completed_at <= done.expires_at
    assert done.expired_at is None

    got = check_result_files(tenant, done, line_numbers(items))
    assert [x["custom_id"] for x in got.output] == [f"{prefix}-soon", f"{prefix}-ok"]
    assert [x["custom_id"] for x in got.errors] == [f"{prefix}-late"]
    late = got.errors[0]
    assert late["response"]["status_code"] == 429
    assert late["error"]["code"] == "rate_limit_exceeded"
    assert calls(stack.upstream, prefix) == {
        f"{prefix}-late": 1,
        f"{prefix}-soon": 2,
        f"{prefix}-ok": 1,
    }
