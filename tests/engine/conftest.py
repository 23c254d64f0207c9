"""The server stack: `batchgate serve` with Redis + PostgreSQL, and `batchgate worker` processes."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest

from support.procs import BATCHGATE, FakeUpstream, Server
from support.services import postgres_database, redis_database
from support.stacks import KEY_POOL, ServerStack, stack_env


@pytest.fixture(scope="module")
def server_stack(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[ServerStack]:
    """API + two workers, sharing a fresh PostgreSQL database and Redis database."""
    workdir = tmp_path_factory.mktemp("server-stack")
    keys = [f"sk-test-{secrets.token_hex(12)}" for _ in range(KEY_POOL)]
    with postgres_database() as database_url, redis_database() as redis_url:
        env = stack_env(
            workdir,
            database_url,
            upstream,
            keys,
            BATCHGATE_REDIS_URL=redis_url,
            BATCHGATE_UPSTREAM_MAX_CONCURRENCY="32",
        )
        subprocess.run([*BATCHGATE, "migrate"], env=env, check=True, capture_output=True)
        server = Server(workdir, env)
        server.start()
        stack = ServerStack(
            server, upstream, "postgres", database_url, keys, redis_url, workdir, env
        )
        try:
            stack.start_worker("a")
            stack.start_worker("b")
            yield stack
        finally:
            for worker in stack.workers.values():
                worker.stop()
            server.stop()
