"""A 2,000-line batch mixing successes, permanent 400s, transient 429/5xx and timeouts, and the
checks every deployment must pass on it."""

from __future__ import annotations

import re
from typing import Any

from support.batches import chat_line, results, submit, wait_for
from support.procs import FakeUpstream

N = 2000
BATCH_REQ = re.compile(r"^batch_req_[0-9a-f]{32}$")


def mixed_lines() -> list[dict[str, Any]]:
    lines = []
    for i in range(N):
        fault: dict[str, Any] | None = None
        if i % 20 == 0:
            fault = {"fail_times": -1, "status": 400}  # permanent: an error line, no retry
        elif i % 20 == 1:
            fault = {"fail_times": 1, "status": 429, "retry_after": 0.1}
        elif i % 20 == 2:
            fault = {"fail_times": 2, "status": 503}
        elif i % 20 == 3:
            fault = {"fail_times": 1, "status": 500}
        elif i % 500 == 4:
            fault = {"hang_s": 2.5, "hang_times": 1}  # one timeout, then success
        elif i % 1000 == 5:
            fault = {"hang_s": 2.5}  # times out on every attempt: request_timeout
        # every answer takes 50 ms, as a model's would take some time: one worker alone needs
        # seconds for the batch, so on the server stack both workers get a real share of it
        lines.append(chat_line(f"line-{i}", {"latency_ms": 50, **(fault or {})}))
    return lines


def expected_outcome(i: int) -> str:
    if i % 20 == 0:
        return "http_400"
    if i % 1000 == 5:
        return "timeout"
    return "ok"


def check_mixed_batch(stack_client: Any, upstream: FakeUpstream) -> str:
    batch = submit(stack_client, mixed_lines())
    batch = wait_for(stack_client, batch.id, timeout=120)
    assert batch.status == "completed", batch
    got = results(stack_client, batch)

    # exactly one result line per input line
    counts = got.custom_id_counts()
    assert len(counts) == N
    assert set(counts.values()) == {1}

    expected_failures = {f"line-{i}" for i in range(N) if expected_outcome(i) != "ok"}
    assert {line["custom_id"] for line in got.errors} == expected_failures
    assert batch.request_counts is not None
    assert batch.request_counts.total == N
    assert batch.request_counts.completed == N - len(expected_failures)
    assert batch.request_counts.failed == len(expected_failures)

    for line in got.output:
        assert BATCH_REQ.match(line["id"])
        assert line["error"] is None
        response = line["response"]
        assert response["status_code"] == 200
        assert response["request_id"].startswith("req_")
        assert response["body"]["object"] == "chat.completion"
        assert response["body"]["model"] == "test-model"
    for line in got.errors:
        i = int(line["custom_id"].split("-")[1])
        assert BATCH_REQ.match(line["id"])
        if expected_outcome(i) == "http_400":
            # OpenAI's envelope for HTTP errors, plus error{code,message} for other readers
            assert line["response"]["status_code"] == 400
            assert line["response"]["body"]["error"]["code"] == "context_length_exceeded"
            assert line["error"]["code"] == "context_length_exceeded"
            assert "maximum context length" in line["error"]["message"]
        else:
            assert line["response"] is None
            assert line["error"]["code"] == "request_timeout"

    # usage is the sum of what the upstream reported
    usage = [line["response"]["body"]["usage"] for line in got.output]
    assert batch.usage is not None
    assert batch.usage.input_tokens == sum(u["prompt_tokens"] for u in usage)
    assert batch.usage.output_tokens == sum(u["completion_tokens"] for u in usage)
    assert batch.usage.total_tokens == sum(u["total_tokens"] for u in usage)

    # retries happened, and nothing that succeeded first time was sent twice
    calls = upstream.stats()["by_key"]
    for i in range(N):
        key = f"line-{i}"
        if i % 20 == 1 or i % 20 == 3 or i % 500 == 4:
            assert calls[key] == 2, key
        elif i % 20 == 2:
            assert calls[key] == 3, key
        elif i % 20 == 0:
            assert calls[key] == 1, key  # a 400 is final
        elif i % 1000 == 5:
            assert calls[key] >= 2, key
        else:
            assert calls[key] == 1, key
    return batch.id
