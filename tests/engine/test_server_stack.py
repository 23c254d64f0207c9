"""The server stack end to end: API + two `batchgate worker` processes on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from support.mixed import check_mixed_batch
from support.stacks import ServerStack

pytestmark = pytest.mark.slow


def answering_workers(database_url: str, batch_id: str) -> dict[str, int]:
    """Which worker answered how many lines (`lease_owner` keeps the last holder)."""

    async def query() -> dict[str, int]:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            rows = await connection.fetch(
                "SELECT lease_owner, count(*) FROM batch_requests WHERE batch_id = $1 "
                "GROUP BY lease_owner",
                batch_id,
            )
        finally:
            await connection.close()
        return {row[0]: row[1] for row in rows}

    return asyncio.run(query())


def test_mixed_batch_on_two_workers(server_stack: ServerStack) -> None:
    server_stack.upstream.reset()
    batch_id = check_mixed_batch(server_stack.client(), server_stack.upstream)
    owners = answering_workers(server_stack.database_url, batch_id)
    assert len(owners) == 2, owners  # both workers did part of the work
    assert min(owners.values()) > 100, owners
