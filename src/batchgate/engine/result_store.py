"""Writing line results and moving their batches' counters, in one atomic step per flush.

A result is written only if the line is still running under the lease token it was claimed
with; one whose lease moved on (expired and re-claimed, cancelled, expired with its batch) is
dropped, so a late answer can never overwrite a newer one or a closed line. The counters move
by what was written, never by what was dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.db.driver import DriverStatement
from batchgate.engine.repository import EngineRepository
from batchgate.engine.results import USAGE_FIELDS
from batchgate.models import BatchRequest, LineState

_lines = cast(Table, BatchRequest.__table__)

#: what a result sets on its line row (the lease columns are cleared besides), with the
#: PostgreSQL type of each as an array parameter
RESULT_COLUMNS = {
    "state": "text",
    "status_code": "integer",
    "request_id": "text",
    "response_body": "text",
    "error_code": "text",
    "error_message": "text",
    "next_attempt_at_ms": "bigint",
}
#: the batch counters a result moves
COUNTERS = ("completed", "failed", *USAGE_FIELDS)
_ARRAYS = {
    "id": "bigint",
    "token": "bigint",
    **RESULT_COLUMNS,
    **{f"d_{counter}": "bigint" for counter in COUNTERS},
}

# One statement for the whole flush, atomic on its own, so it needs no transaction around it:
# PostgreSQL joins the results in as arrays, writes each line whose lease token still matches
# (checked under its row lock), sums what it wrote per batch, moves those batches' counters,
# and returns the ids written and the counters. Measured for a flush of 256 results: ~1.4 ms
# of worker CPU, against ~5 ms for a SELECT … FOR UPDATE, an UPDATE per row and a counter
# UPDATE through the ORM session in a transaction.
_WRITE = text(
    f"""
    WITH v AS (
        SELECT * FROM unnest(
            {", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _ARRAYS.items())}
        ) AS v({", ".join(_ARRAYS)})
    ), written AS (
        UPDATE {_lines.name} AS r SET
            {", ".join(f"{column} = v.{column}" for column in RESULT_COLUMNS)},
            lease_token = NULL, lease_expires_at_ms = NULL
        FROM v
        WHERE r.id = v.id AND r.lease_token = v.token AND r.state = :running
        RETURNING r.id, r.batch_id, {", ".join(f"v.d_{counter}" for counter in COUNTERS)}
    ), moved AS (
        SELECT batch_id, {", ".join(f"sum(d_{c}) AS {c}" for c in COUNTERS)}
        FROM written GROUP BY batch_id
        HAVING sum(d_completed) + sum(d_failed) > 0
    ), bumped AS (
        UPDATE batches AS b SET {", ".join(f"{c} = b.{c} + m.{c}" for c in COUNTERS)}
        FROM moved AS m WHERE b.id = m.batch_id
        RETURNING b.id, b.status, b.total, b.completed, b.failed
    )
    SELECT (SELECT coalesce(array_agg(id), '{{}}') FROM written),
           (SELECT CAST(coalesce(json_agg(bumped), '[]') AS text) FROM bumped)
    """
)
_WRITE_ON_DRIVER = DriverStatement.compile(
    _WRITE.bindparams(bindparam("running", LineState.running.value))
)


class LineResult(NamedTuple):
    line_id: int
    token: int
    batch_id: str
    #: the RESULT_COLUMNS; next_attempt_at_ms may be left out (0: due at once)
    values: Mapping[str, Any]
    #: how the batch's COUNTERS move if this result is written
    deltas: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class BatchCounters:
    batch_id: str
    status: str
    total: int
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class Recorded:
    #: the line ids written (the rest had lost their lease)
    written: set[int]
    #: the batches whose counters moved, as they stand now
    batches: list[BatchCounters]


class ResultStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, results: Sequence[LineResult]) -> Recorded:
        """Write the results whose lease token still matches and move their counters.

        On PostgreSQL this is one statement (run it in `Runtime.single_statement`); elsewhere
        it is several, and must run inside a transaction."""
        if not results:
            return Recorded(set(), [])
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            return await self._record_postgres(results)
        return await self._record_generic(results)

    async def _record_postgres(self, results: Sequence[LineResult]) -> Recorded:
        arrays: dict[str, list[Any]] = {
            "id": [r.line_id for r in results],
            "token": [r.token for r in results],
        }
        for column in RESULT_COLUMNS:
            default = 0 if column == "next_attempt_at_ms" else None
            arrays[column] = [r.values.get(column, default) for r in results]
        for counter in COUNTERS:
            arrays[f"d_{counter}"] = [r.deltas.get(counter, 0) for r in results]
        [(written, bumped)] = await _WRITE_ON_DRIVER.fetch(self.session, arrays)
        batches = [
            BatchCounters(b["id"], b["status"], b["total"], b["completed"], b["failed"])
            for b in orjson.loads(bumped)
        ]
        return Recorded(set(written), batches)

    async def _record_generic(self, results: Sequence[LineResult]) -> Recorded:
        """SQLite: lock and read the fences, one executemany UPDATE, then the counters."""
        tokens = {r.token for r in results}
        rows = await self.session.execute(
            select(BatchRequest.id, BatchRequest.lease_token)
            .where(
                BatchRequest.id.in_([r.line_id for r in results]),
                BatchRequest.state == LineState.running,
                BatchRequest.lease_token.in_(tokens),
            )
            .with_for_update()
        )
        fenced = {(r.line_id, r.token) for r in results}
        written = {line_id for line_id, token in rows.tuples() if (line_id, token) in fenced}
        kept = [r for r in results if r.line_id in written]
        updates = [
            {
                "b_id": r.line_id,
                **{column: r.values.get(column) for column in RESULT_COLUMNS},
                "next_attempt_at_ms": r.values.get("next_attempt_at_ms", 0),
                "lease_token": None,
                "lease_expires_at_ms": None,
            }
            for r in kept
        ]
        if updates:
            statement = (
                update(_lines)
                .where(_lines.c.id == bindparam("b_id"))
                .values({key: bindparam(key) for key in updates[0] if key != "b_id"})
            )
            await self.session.execute(statement, updates)
        moved: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        for result in kept:
            for name, amount in result.deltas.items():
                moved[result.batch_id][name] += amount
        repo = EngineRepository(self.session)
        batches = []
        for batch_id, deltas in moved.items():
            if deltas.get("completed", 0) + deltas.get("failed", 0) == 0:
                continue
            counters = await repo.bump_counters(batch_id, dict(deltas))
            if counters is not None:
                batches.append(
                    BatchCounters(
                        batch_id,
                        counters.status,
                        counters.total,
                        counters.completed,
                        counters.failed,
                    )
                )
        return Recorded(written, batches)
