"""Every query the engine makes. Leases and fencing tokens are enforced here, in SQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.db.driver import DriverStatement
from batchgate.models import Batch, BatchRequest, BatchStatus, LineState, StoredFile

_lines = cast(Table, BatchRequest.__table__)
#: the columns of a new line row, in the order `insert_lines` takes them
LINE_COLUMNS = (
    "batch_id",
    "line_no",
    "custom_id",
    "input_offset",
    "input_length",
    "state",
    "attempts",
    "next_attempt_at_ms",
)


@dataclass(frozen=True, slots=True)
class ClaimedLine:
    id: int
    line_no: int
    input_offset: int
    input_length: int
    attempts: int


@dataclass(frozen=True, slots=True)
class FinishedLine:
    line_no: int
    custom_id: str
    state: str
    status_code: int | None
    request_id: str | None
    response_body: str | None
    error_code: str | None
    error_message: str | None


_FINISHED_COLUMNS = tuple(FinishedLine.__dataclass_fields__)
_FINISHED_SQL = (
    f"SELECT {', '.join(_FINISHED_COLUMNS)} FROM {_lines.name}"
    " WHERE batch_id = $1 AND line_no > $2 ORDER BY line_no LIMIT $3"
)


@dataclass(frozen=True, slots=True)
class ActiveBatch:
    id: str
    model: str
    endpoint: str
    input_key: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Counters:
    status: str
    total: int
    completed: int
    failed: int


# Lease up to :limit due lines of :for_batch. Built once: the executor claims dozens of times a
# second, and on PostgreSQL this runs on the driver directly (db/driver.py says why).
_DUE = (
    select(BatchRequest.id)
    .where(
        BatchRequest.batch_id == bindparam("for_batch"),
        BatchRequest.state == LineState.pending,
        BatchRequest.next_attempt_at_ms <= bindparam("now_ms"),
        # the executor's list of active batches is cached: a batch cancelled or past its
        # deadline since then must not get new sends; in-flight lines may finish
        select(Batch.id)
        .where(
            Batch.id == bindparam("for_batch"),
            Batch.status == BatchStatus.in_progress,
            Batch.expires_at > bindparam("now_s"),
        )
        .exists(),
    )
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(BatchRequest)
    .where(BatchRequest.id.in_(_DUE.scalar_subquery()))
    .values(
        state=LineState.running,
        lease_owner=bindparam("owner"),
        lease_token=bindparam("token"),
        lease_expires_at_ms=bindparam("until_ms"),
        attempts=BatchRequest.attempts + 1,
    )
    .returning(
        BatchRequest.id,
        BatchRequest.line_no,
        BatchRequest.input_offset,
        BatchRequest.input_length,
        BatchRequest.attempts,
    )
    .execution_options(synchronize_session=False)
)
_CLAIM_ON_DRIVER = DriverStatement.compile(_CLAIM)


class EngineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- batch-level lease (validate / finalize phases) --------------------------------------

    async def take_batch_lease(
        self, batch_id: str, owner: str, now_ms: int, until_ms: int, statuses: Collection[str]
    ) -> bool:
        result = await self.session.execute(
            update(Batch)
            .where(
                Batch.id == batch_id,
                Batch.status.in_(list(statuses)),
                # not even `owner` may take it twice: a finalize (after a cancel) must not run
                # beside this worker's own unfinished validate, nor release its lease
                or_(Batch.lease_owner.is_(None), Batch.lease_expires_at_ms < now_ms),
            )
            .values(lease_owner=owner, lease_expires_at_ms=until_ms)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def extend_batch_lease(self, batch_id: str, owner: str, until_ms: int) -> bool:
        result = await self.session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.lease_owner == owner)
            .values(lease_expires_at_ms=until_ms)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release_batch_lease(self, batch_id: str, owner: str) -> None:
        await self.session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at_ms=None)
        )

    async def get_batch(self, batch_id: str) -> Batch | None:
        return await self.session.get(Batch, batch_id, populate_existing=True)

    async def input_key(self, file_id: str) -> str | None:
        return await self.session.scalar(
            select(StoredFile.storage_key).where(StoredFile.id == file_id)
        )

    async def transition(
        self,
        batch_id: str,
        owner: str | None,
        from_statuses: Collection[str],
        values: dict[str, Any],
    ) -> bool:
        """Compare-and-set on status (and on the lease, when `owner` is given)."""
        conditions = [Batch.id == batch_id, Batch.status.in_(list(from_statuses))]
        if owner is not None:
            conditions.append(Batch.lease_owner == owner)
        result = await self.session.execute(update(Batch).where(*conditions).values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # --- line rows ------------------------------------------------------------------------------

    async def delete_lines(self, batch_id: str) -> None:
        await self.session.execute(delete(BatchRequest).where(BatchRequest.batch_id == batch_id))

    async def insert_lines(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """New pending lines, each a tuple in LINE_COLUMNS order. On PostgreSQL through COPY:
        ~10x faster than INSERTs for the tens of thousands of rows a large batch brings."""
        connection = await self.session.connection()
        if connection.dialect.name != "postgresql":
            await self.session.execute(
                insert(_lines), [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows]
            )
            return
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            _lines.name, columns=LINE_COLUMNS, records=rows
        )

    async def refresh_line_statistics(self) -> None:
        """Tell PostgreSQL's planner a batch's worth of rows arrived, so claims use the index
        from the first one on instead of scanning until autovacuum gets round to it."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            await connection.exec_driver_sql(f"ANALYZE {_lines.name}")

    async def claim_lines(
        self, batch_id: str, owner: str, token: int, limit: int, now_ms: int, until_ms: int
    ) -> list[ClaimedLine]:
        """Lease up to `limit` due lines. SKIP LOCKED lets many workers claim side by side.

        No ORDER BY: the claim index yields lines in insertion order already, and sorting every
        pending line of a 50k-line batch on each claim would cost more than it is worth.
        """
        params = {
            "for_batch": batch_id,  # not "batch_id": that name is the column's own in UPDATEs
            "owner": owner,
            "token": token,
            "limit": limit,
            "now_ms": now_ms,
            "now_s": now_ms // 1000,
            "until_ms": until_ms,
        }
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            rows = await _CLAIM_ON_DRIVER.fetch(self.session, params)
        else:
            rows = (await self.session.execute(_CLAIM, params)).all()
        return [ClaimedLine(*row) for row in rows]

    async def extend_line_leases(self, owner: str, until_ms: int) -> None:
        await self.session.execute(
            update(BatchRequest)
            .where(BatchRequest.lease_owner == owner, BatchRequest.state == LineState.running)
            .values(lease_expires_at_ms=until_ms)
            .execution_options(synchronize_session=False)
        )

    async def release_lines(self, owner: str) -> int:
        """Hand back what a draining worker still holds, for any worker to claim again."""
        result = await self.session.execute(
            update(BatchRequest)
            .where(BatchRequest.lease_owner == owner, BatchRequest.state == LineState.running)
            .values(**_UNLEASED)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def return_unsent(self, owner: str, line_ids: Sequence[int]) -> None:
        """Hand back lines claimed but never sent: their claim did not count as an attempt."""
        if line_ids:
            await self.session.execute(
                update(BatchRequest)
                .where(
                    BatchRequest.id.in_(list(line_ids)),
                    BatchRequest.lease_owner == owner,
                    BatchRequest.state == LineState.running,
                )
                .values(**_UNLEASED, attempts=BatchRequest.attempts - 1)
                .execution_options(synchronize_session=False)
            )

    async def release_expired_leases(self, now_ms: int) -> int:
        result = await self.session.execute(
            update(BatchRequest)
            .where(
                BatchRequest.state == LineState.running,
                BatchRequest.lease_expires_at_ms < now_ms,
            )
            .values(**_UNLEASED)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def bump_counters(self, batch_id: str, deltas: dict[str, int]) -> Counters | None:
        values = {name: getattr(Batch, name) + amount for name, amount in deltas.items()}
        result = await self.session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(**values)
            .returning(Batch.status, Batch.total, Batch.completed, Batch.failed)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return Counters(*row) if row else None

    async def has_running_lines(self, batch_id: str, now_ms: int) -> bool:
        found = await self.session.scalar(
            select(BatchRequest.id)
            .where(
                BatchRequest.batch_id == batch_id,
                BatchRequest.state == LineState.running,
                BatchRequest.lease_expires_at_ms >= now_ms,
            )
            .limit(1)
        )
        return found is not None

    async def close_open_lines(self, batch_id: str, state: LineState) -> int:
        """Every line not finished becomes `state` (cancelled / expired); late results bounce."""
        result = await self.session.execute(
            update(BatchRequest)
            .where(
                BatchRequest.batch_id == batch_id,
                BatchRequest.state.in_([LineState.pending, LineState.running]),
            )
            .values(state=state, **_UNLEASED_KEEP_STATE)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def finished_lines(
        self, batch_id: str, after_line: int, limit: int
    ) -> list[FinishedLine]:
        """Terminal lines in line order, one keyset page at a time (bounded memory); only the
        columns an output line needs, not whole ORM objects."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            # straight from the driver: for the tens of thousands of rows finalize reads,
            # SQLAlchemy's result handling cost twice what the query and the transfer did
            raw = await connection.get_raw_connection()
            records = await raw.driver_connection.fetch(  # type: ignore[union-attr]
                _FINISHED_SQL, batch_id, after_line, limit
            )
            return [FinishedLine(*record) for record in records]
        rows = await self.session.execute(
            select(*(getattr(BatchRequest, column) for column in _FINISHED_COLUMNS))
            .where(BatchRequest.batch_id == batch_id, BatchRequest.line_no > after_line)
            .order_by(BatchRequest.line_no)
            .limit(limit)
        )
        return [FinishedLine(*row) for row in rows.tuples()]

    # --- scheduling ----------------------------------------------------------------------------

    async def active_batches(self) -> list[ActiveBatch]:
        rows = await self.session.execute(
            select(Batch.id, Batch.model, Batch.endpoint, StoredFile.storage_key, Batch.expires_at)
            .join(StoredFile, StoredFile.id == Batch.input_file_id)
            .where(Batch.status == BatchStatus.in_progress, StoredFile.storage_key.is_not(None))
            .order_by(Batch.id)
        )
        return [
            ActiveBatch(batch_id, model or "", endpoint, key or "", expires_at)
            for batch_id, model, endpoint, key, expires_at in rows.tuples()
        ]

    async def batches_needing_attention(self, now_s: int, now_ms: int) -> list[tuple[str, str]]:
        """(batch id, status) of batches a job should look at: validation nobody holds,
        deadlines passed, cancels pending, all lines done, finalization nobody holds."""
        lease_free = or_(Batch.lease_owner.is_(None), Batch.lease_expires_at_ms < now_ms)
        rows = await self.session.execute(
            select(Batch.id, Batch.status).where(
                or_(
                    and_(
                        Batch.status.in_([BatchStatus.validating, BatchStatus.finalizing]),
                        lease_free,
                    ),
                    and_(Batch.status == BatchStatus.cancelling, lease_free),
                    and_(
                        Batch.status == BatchStatus.in_progress,
                        lease_free,
                        or_(
                            Batch.expires_at <= now_s, Batch.completed + Batch.failed >= Batch.total
                        ),
                    ),
                )
            )
        )
        return [(batch_id, status) for batch_id, status in rows.tuples()]

    async def open_line_count(self, batch_id: str) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(BatchRequest)
            .where(
                BatchRequest.batch_id == batch_id,
                BatchRequest.state.in_([LineState.pending, LineState.running]),
            )
        )
        return int(count or 0)


_UNLEASED_KEEP_STATE: dict[str, Any] = {
    "lease_owner": None,
    "lease_token": None,
    "lease_expires_at_ms": None,
}
_UNLEASED: dict[str, Any] = {"state": LineState.pending, **_UNLEASED_KEEP_STATE}
