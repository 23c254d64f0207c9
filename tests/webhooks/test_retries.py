"""Retries and durability, on a server of our own with a fast retry ladder (0.25 s, 1.5 s, 6 s…),
a 6 s maximum age and a 1 s send timeout: a failing receiver gets the event once it answers
2xx, a dead one is given up on, and a delivery survives `kill -9` of the embedded server,
whether it was waiting for a retry or in the middle of being sent."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openai import OpenAI

from support.batches import chat_line, submit, wait_for
from support.db import execute
from support.procs import FakeUpstream, Server
from support.stacks import stack_env
from webhooks.hooks import Hooks
from webhooks.receiver import Receiver


@dataclass
class Quick:
    server: Server
    database_url: str
    keys: list[str]

    def client(self) -> OpenAI:
        return OpenAI(base_url=self.server.base_url, api_key=self.keys.pop(), max_retries=0)

    def delivery(self, endpoint_id: str) -> dict[str, Any]:
        rows = execute(
            self.database_url,
            "SELECT state, attempts, next_attempt_at_ms, last_status_code, last_error, "
            "delivered_at FROM webhook_deliveries WHERE endpoint_id = :endpoint",
            endpoint=endpoint_id,
        )
        assert len(rows) == 1, rows
        names = ("state", "attempts", "next_attempt_at_ms", "status", "error", "delivered_at")
        return dict(zip(names, rows[0], strict=True))

    def wait_delivery(self, endpoint_id: str, until: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            row = self.delivery(endpoint_id) if self._has(endpoint_id) else None
            if row is not None and until(row):
                return row
            assert time.monotonic() < deadline, row
            time.sleep(0.05)

    def _has(self, endpoint_id: str) -> bool:
        return bool(
            execute(
                self.database_url,
                "SELECT 1 FROM webhook_deliveries WHERE endpoint_id = :endpoint",
                endpoint=endpoint_id,
            )
        )


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream) -> Iterator[Quick]:
    workdir = tmp_path_factory.mktemp("webhooks-quick")
    database_url = f"sqlite+aiosqlite:///{workdir / 'bg.db'}"
    keys = [f"sk-test-{secrets.token_hex(12)}" for _ in range(8)]
    env = stack_env(
        workdir,
        database_url,
        upstream,
        keys,
        BATCHGATE_WEBHOOK_RETRY_BASE_SECONDS="0.25",
        BATCHGATE_WEBHOOK_MAX_AGE_SECONDS="6",
        BATCHGATE_WEBHOOK_TIMEOUT_SECONDS="1",
    )
    server = Server(workdir, env)
    server.start()
    try:
        yield Quick(server, database_url, keys)
    finally:
        server.stop()


def finish_a_batch(client: OpenAI) -> str:
    batch = submit(client, [chat_line("rt-1"), chat_line("rt-2")])
    assert wait_for(client, batch.id, timeout=30).status == "completed"
    return batch.id


def check_signed(received: list[Any], secret: str, batch_id: str) -> None:
    for got in received:
        event = got.unwrap(secret)
        assert (event.type, event.data.id) == ("batch.completed", batch_id)
    assert len({got.event_id for got in received}) == 1  # every attempt is the same message


def test_failing_receiver_gets_the_event_once_it_answers(quick: Quick, hooks: Hooks) -> None:
    client = quick.client()
    receiver = hooks.receiver(fail_first=2)
    endpoint = hooks.register(client, receiver)
    batch_id = finish_a_batch(client)
    receiver.wait_delivered()
    time.sleep(0.5)  # nothing more comes once it was answered 2xx
    received = receiver.snapshot()
    assert [r.status for r in received] == [500, 500, 200]
    check_signed(received, endpoint.signing_secret, batch_id)
    row = quick.delivery(endpoint.id)
    assert (row["state"], row["attempts"], row["status"], row["error"]) == (
        "delivered",
        3,
        200,
        None,
    )
    assert row["delivered_at"] is not None


def test_dead_receiver_is_given_up_after_max_age(quick: Quick, hooks: Hooks) -> None:
    client = quick.client()
    receiver = hooks.receiver(fail_first=10**6)
    endpoint = hooks.register(client, receiver)
    finish_a_batch(client)
    # attempts at ~0 s, 0.25 s and 1.75 s; the next would be at 7.75 s, past the 6 s limit
    row = quick.wait_delivery(endpoint.id, lambda r: r["state"] == "failed", timeout=20)
    assert row["attempts"] == 3
    assert (row["status"], row["error"], row["delivered_at"]) == (500, "HTTP 500", None)
    time.sleep(0.5)
    assert [r.status for r in receiver.snapshot()] == [500, 500, 500]


@pytest.mark.slow
def test_delivery_waiting_for_a_retry_survives_kill_9(quick: Quick, hooks: Hooks) -> None:
    client = quick.client()
    receiver = hooks.receiver(fail_first=10**6)
    endpoint = hooks.register(client, receiver)
    batch_id = finish_a_batch(client)
    # after the 2nd failure the next attempt is 1.5 s away: kill the server in that gap
    quick.wait_delivery(endpoint.id, lambda r: r["state"] == "pending" and r["attempts"] == 2)
    quick.server.kill()
    row = quick.delivery(endpoint.id)
    assert (row["state"], row["attempts"]) == ("pending", 2)
    receiver.fail_first = 0
    quick.server.start()
    receiver.wait_delivered()
    time.sleep(0.5)
    assert [r.status for r in receiver.snapshot()] == [500, 500, 200]
    check_signed(receiver.snapshot(), endpoint.signing_secret, batch_id)
    assert quick.delivery(endpoint.id)["state"] == "delivered"


@pytest.mark.slow
def test_delivery_cut_off_mid_send_is_sent_again(quick: Quick, hooks: Hooks) -> None:
    client = quick.client()
    receiver: Receiver = hooks.receiver()
    receiver.hold.set()  # the first request is held open: the sender is mid-send
    endpoint = hooks.register(client, receiver)
    batch_id = finish_a_batch(client)
    assert receiver.arrived.wait(15)
    quick.server.kill()
    assert quick.delivery(endpoint.id)["state"] == "sending"
    receiver.hold.clear()
    receiver.release.set()
    quick.server.start()
    # the dead sender's lease (1 s timeout + 4 s) runs out, then it is sent again
    row = quick.wait_delivery(endpoint.id, lambda r: r["state"] == "delivered", timeout=20)
    assert row["attempts"] == 2
    received = receiver.snapshot()
    assert len(received) == 2  # at least once: the receiver dedupes on webhook-id
    check_signed(received, endpoint.signing_secret, batch_id)
