"""Writing line results: one bulk, fenced update per flush.

A result is written only if the line is still running under the lease token it was claimed
with; one whose lease moved on (expired and re-claimed, cancelled, expired with its batch) is
dropped, so a late answer can never overwrite a newer one or a closed line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

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
_ARRAYS = {"id": "bigint", "token": "bigint", **RESULT_COLUMNS}

# One statement for the whole flush: PostgreSQL joins the results in as arrays, checks each
# row's fence under its row lock, and says which rows it wrote, where a SELECT … FOR UPDATE
# plus one UPDATE per row took a round trip and 256 executions.
_POSTGRES_RECORD = text(
    f"""
    UPDATE {_lines.name} AS r SET
        {", ".join(f"{column} = v.{column}" for column in RESULT_COLUMNS)},
        lease_token = NULL, lease_expires_at_ms = NULL
    FROM unnest({", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _ARRAYS.items())})
        AS v({", ".join(_ARRAYS)})
    WHERE r.id = v.id AND r.lease_token = v.token AND r.state = '{LineState.running.value}'
    RETURNING r.id
    """
)


class LineResult(NamedTuple):
    line_id: int
    token: int
    #: the RESULT_COLUMNS; next_attempt_at_ms may be left out (0: due at once)
    values: dict[str, Any]


class ResultStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, results: Sequence[LineResult]) -> set[int]:
        """Write the results whose lease token still matches; returns the line ids written."""
        if not results:
            return set()
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            return await self._record_postgres(results)
        return await self._record_generic(results)

    async def _record_postgres(self, results: Sequence[LineResult]) -> set[int]:
        arrays: dict[str, list[Any]] = {
            "id": [r.line_id for r in results],
            "token": [r.token for r in results],
        }
        for column in RESULT_COLUMNS:
            default = 0 if column == "next_attempt_at_ms" else None
            arrays[column] = [r.values.get(column, default) for r in results]
        rows = await self.session.execute(_POSTGRES_RECORD, arrays)
        return set(rows.scalars())

    async def _record_generic(self, results: Sequence[LineResult]) -> set[int]:
        """SQLite: lock and read the fences, then one executemany UPDATE."""
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
        accepted = {line_id for line_id, token in rows.tuples() if (line_id, token) in fenced}
        updates = [
            {
                "b_id": r.line_id,
                **{column: r.values.get(column) for column in RESULT_COLUMNS},
                "next_attempt_at_ms": r.values.get("next_attempt_at_ms", 0),
                "lease_token": None,
                "lease_expires_at_ms": None,
            }
            for r in results
            if r.line_id in accepted
        ]
        if updates:
            statement = (
                update(_lines)
                .where(_lines.c.id == bindparam("b_id"))
                .values({key: bindparam(key) for key in updates[0] if key != "b_id"})
            )
            await self.session.execute(statement, updates)
        return accepted
