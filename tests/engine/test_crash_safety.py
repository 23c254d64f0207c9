"""Crash safety with real processes: kill -9 workers mid-batch, flush Redis, kill the embedded
API — every batch still completes with each custom_id exactly once, and only lines that were
in flight at a crash are sent upstream a second time."""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from typing import Any

import pytest
import redis
from openai import OpenAI

from support.batches import chat_line, results, submit, wait_for
from support.db import execute
from support.procs import FakeUpstream, Server, Worker
from support.stacks import KEY_POOL, ServerStack, stack_env

pytestmark = pytest.mark.slow

#: each line takes this long upstream, so a batch runs for seconds and can be hit mid-way
SLOW_MS = 150


def slow_lines(n: int, prefix: str) -> list[dict[str, Any]]:
    return [chat_line(f"{prefix}-{i}", {"latency_ms": SLOW_MS}) for i in range(n)]


def answered(client: OpenAI, batch_id: str) -> int:
    counts = client.batches.retrieve(batch_id).request_counts
    assert counts is not None
    return counts.completed + counts.failed


def wait_until_answered(client: OpenAI, batch_id: str, at_least: int, timeout: float = 60) -> None:
    wait_for(client, batch_id, lambda b: answered(client, batch_id) >= at_least, timeout)


def check_exactly_once(
    client: OpenAI,
    batch_id: str,
    upstream: FakeUpstream,
    prefix: str,
    n: int,
    max_resent: int,
    in_flight_at_crashes: Counter[str] | None = None,
) -> None:
    batch = wait_for(client, batch_id, timeout=120)
    assert batch.status == "completed", batch
    got = results(client, batch)
    counts = got.custom_id_counts()
    assert set(counts) == {f"{prefix}-{i}" for i in range(n)}
    assert set(counts.values()) == {1}  # exactly one result line per input line
    assert not got.errors
    calls = {k: v for k, v in upstream.stats()["by_key"].items() if k.startswith(f"{prefix}-")}
    assert len(calls) == n
    resent = [key for key, count in calls.items() if count > 1]
    # only what was in flight at a crash may go out again: once more per crash it was caught in
    assert len(resent) <= max_resent, len(resent)
    if in_flight_at_crashes is not None:
        extra = {key: calls[key] - 1 - in_flight_at_crashes[key] for key in resent}
        assert all(n <= 0 for n in extra.values()), {k: n for k, n in extra.items() if n > 0}
    else:
        assert max(calls.values()) <= 2


def worker_id(worker: Worker) -> str:
    # the log file is appended to across restarts: the last start is the one running now
    started = re.findall(r"worker (\S+) consuming", worker.tail(1_000_000))
    assert started, worker.tail()
    return str(started[-1])


def leased_by(database_url: str, owner: str) -> set[str]:
    """The lines a (now dead) worker held: sent, or answered but not yet recorded."""
    rows = execute(
        database_url,
        "SELECT custom_id FROM batch_requests WHERE lease_owner = :owner AND state = 'running'",
        owner=owner,
    )
    return {custom_id for (custom_id,) in rows}


def test_kill_workers_mid_batch(server_stack: ServerStack) -> None:
    client = server_stack.client()
    n, prefix = 1200, f"kill-{secrets.token_hex(3)}"
    batch = submit(client, slow_lines(n, prefix))
    in_flight_at_kills: Counter[str] = Counter()
    for name, at in (("a", 150), ("b", 450), ("a", 750)):
        wait_until_answered(client, batch.id, at)
        victim = server_stack.workers[name]
        owner = worker_id(victim)
        victim.kill()
        in_flight_at_kills.update(leased_by(server_stack.database_url, owner))
        time.sleep(0.5)
        server_stack.start_worker(name)
    assert in_flight_at_kills  # the kills did hit work in progress
    check_exactly_once(
        client,
        batch.id,
        server_stack.upstream,
        prefix,
        n,
        max_resent=len(in_flight_at_kills),
        in_flight_at_crashes=in_flight_at_kills,
    )


def test_redis_flushed_mid_batch(server_stack: ServerStack) -> None:
    client = server_stack.client()
    flush = redis.Redis.from_url(server_stack.redis_url)
    n, prefix = 400, f"flush-{secrets.token_hex(3)}"
    batch = submit(client, slow_lines(n, prefix))
    flush.flushdb()  # the validate message is gone before any worker saw it
    wait_until_answered(client, batch.id, 100)
    flush.flushdb()  # and again mid-run
    check_exactly_once(client, batch.id, server_stack.upstream, prefix, n, max_resent=0)


def test_sigterm_drains_and_releases(server_stack: ServerStack) -> None:
    client = server_stack.client()
    n, prefix = 600, f"term-{secrets.token_hex(3)}"
    batch = submit(client, slow_lines(n, prefix))
    wait_until_answered(client, batch.id, 100)
    code = server_stack.workers["a"].stop()  # graceful: finish in-flight, release the rest
    log_tail = "\n".join(server_stack.workers["a"].tail(20_000).splitlines()[-25:])
    assert code == 0, log_tail
    server_stack.start_worker("a")
    check_exactly_once(client, batch.id, server_stack.upstream, prefix, n, max_resent=0)


def test_embedded_api_killed_and_restarted(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> None:
    workdir = tmp_path_factory.mktemp("embedded-crash")
    keys = [f"sk-test-{secrets.token_hex(12)}" for _ in range(KEY_POOL)]
    env = stack_env(workdir, f"sqlite+aiosqlite:///{workdir / 'bg.db'}", upstream, keys)
    server = Server(workdir, env)
    server.start()
    client = OpenAI(base_url=server.base_url, api_key=keys[0], max_retries=0)
    n, prefix = 600, f"api-{secrets.token_hex(3)}"
    try:
        batch = submit(client, slow_lines(n, prefix))
        wait_until_answered(client, batch.id, 150)
        server.kill()
        # the only process is dead: every leased line was in its hands
        held = execute(
            env["BATCHGATE_DATABASE_URL"],
            "SELECT custom_id FROM batch_requests WHERE batch_id = :b AND state = 'running'",
            b=batch.id,
        )
        in_flight = Counter(custom_id for (custom_id,) in held)
        assert in_flight
        server.start()  # same port, same data dir: the batch resumes
        check_exactly_once(
            client,
            batch.id,
            upstream,
            prefix,
            n,
            max_resent=len(in_flight),
            in_flight_at_crashes=in_flight,
        )
    finally:
        server.stop()
