"""Shared fixtures: real batchgate processes over loopback, on SQLite and on PostgreSQL.

Servers are session-scoped (one per backend); every test gets a tenant of its own from a pool
of bootstrap keys, so tests never see each other's files or batches.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from openai import OpenAI

from support.procs import FakeUpstream, Server
from support.services import postgres_database, redis_database
from support.stacks import KEY_POOL, Stack, stack_env


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    fake = FakeUpstream(tmp_path_factory.mktemp("upstream"))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[Stack]:
    """The embedded default (`batchgate serve`, in-process jobs) on each database."""
    workdir = tmp_path_factory.mktemp(f"stack-{request.param}")
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'batchgate.db'}"
    keys = [f"sk-test-{secrets.token_hex(12)}" for _ in range(KEY_POOL)]
    server = Server(workdir, stack_env(workdir, database_url, upstream, keys))
    server.start()
    try:
        yield Stack(server, upstream, request.param, database_url, keys)
    finally:
        server.stop()
    if request.session.testsfailed:
        print(f"--- {request.param} server log (tail) ---\n{server.tail()}")


@pytest.fixture
def client(stack: Stack) -> OpenAI:
    """An `openai` client for a fresh tenant."""
    return stack.client()
