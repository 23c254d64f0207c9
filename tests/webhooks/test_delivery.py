"""Batch events reach the endpoints subscribed to them, signed so the `openai` SDK's
`webhooks.unwrap` accepts them, once per (event, endpoint); nothing else gets them."""

from __future__ import annotations

import time

import pytest

from support.batches import chat_line, submit, wait_for
from support.db import execute
from support.stacks import Stack
from webhooks.hooks import Hooks


def deliveries(stack: Stack, endpoint_id: str) -> list[tuple[str, str, int, int | None]]:
    """(event type, state, attempts, last status) of every delivery row for the endpoint."""
    rows = execute(
        stack.database_url,
        "SELECT event_type, state, attempts, last_status_code FROM webhook_deliveries "
        "WHERE endpoint_id = :endpoint ORDER BY id",
        endpoint=endpoint_id,
    )
    return [(str(t), str(s), int(a), c) for t, s, a, c in rows]


def test_events_reach_subscribed_endpoints_only(stack: Stack, hooks: Hooks) -> None:
    client = stack.client()
    completed_rx, failed_rx, all_rx = hooks.receiver(), hooks.receiver(), hooks.receiver()
    on_completed = hooks.register(client, completed_rx, ["batch.completed"])
    on_failed = hooks.register(client, failed_rx, ["batch.failed"])
    on_all = hooks.register(client, all_rx)

    batch = submit(client, [chat_line(f"wh-{i}") for i in range(3)])
    done = wait_for(client, batch.id, timeout=30)
    assert done.status == "completed", done
    # the delivery rows were written with the status change: they exist as soon as it shows
    assert deliveries(stack, on_failed.id) == []
    assert len(deliveries(stack, on_completed.id)) == len(deliveries(stack, on_all.id)) == 1

    (got,) = completed_rx.wait_delivered()
    event = got.unwrap(on_completed.signing_secret)
    assert event.type == "batch.completed"
    assert event.data.id == batch.id
    assert event.created_at == done.completed_at
    assert event.object == "event"
    assert event.id.startswith("evt_")
    assert got.headers["webhook-id"] == event.id
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    # one event, delivered to each subscribed endpoint under the same id
    (same,) = all_rx.wait_delivered()
    assert same.unwrap(on_all.signing_secret).id == event.id
    assert same.body == got.body

    bad = chat_line("wh-bad")
    bad["method"] = "GET"
    failing = submit(client, [chat_line("wh-ok"), bad])
    failed = wait_for(client, failing.id, timeout=30)
    assert failed.status == "failed", failed
    (got_failed,) = failed_rx.wait_delivered()
    event = got_failed.unwrap(on_failed.signing_secret)
    assert (event.type, event.data.id, event.created_at) == (
        "batch.failed",
        failing.id,
        failed.failed_at,
    )
    all_rx.wait_delivered(2)
    assert [r.unwrap(on_all.signing_secret).type for r in all_rx.delivered()] == [
        "batch.completed",
        "batch.failed",
    ]

    time.sleep(0.7)  # a delivery loop poll: anything stray would have arrived
    assert len(completed_rx.snapshot()) == 1
    assert len(failed_rx.snapshot()) == 1
    assert len(all_rx.snapshot()) == 2
    assert deliveries(stack, on_completed.id) == [("batch.completed", "delivered", 1, 200)]
    assert deliveries(stack, on_failed.id) == [("batch.failed", "delivered", 1, 200)]
    # neither the secrets nor the bodies are logged; the event ids are
    log = stack.server.tail(5_000_000)
    for endpoint in (on_completed, on_failed, on_all):
        assert endpoint.signing_secret.removeprefix("whsec_") not in log
    assert got.body.decode() not in log
    assert event.id in log


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_cancelled_and_expired_batches(stack: Stack, hooks: Hooks) -> None:
    client = stack.client()
    receiver = hooks.receiver()
    endpoint = hooks.register(client, receiver, ["batch.cancelled", "batch.expired"])
    # answers take 3 s against a 2 s upstream timeout: it cannot finish in its 4 s window
    expiring = submit(client, [chat_line("wh-slow", {"latency_ms": 3000})], window="4s")
    cancelled = submit(client, [chat_line("wh-cancel", {"latency_ms": 1000})])
    client.batches.cancel(cancelled.id)
    ended = {
        batch_id: wait_for(client, batch_id, timeout=30) for batch_id in (expiring.id, cancelled.id)
    }
    assert [b.status for b in ended.values()] == ["expired", "cancelled"]
    events = {
        e.data.id: e
        for e in (r.unwrap(endpoint.signing_secret) for r in receiver.wait_delivered(2))
    }
    assert events[expiring.id].type == "batch.expired"
    assert events[expiring.id].created_at == ended[expiring.id].expired_at
    assert events[cancelled.id].type == "batch.cancelled"
    assert events[cancelled.id].created_at == ended[cancelled.id].cancelled_at
