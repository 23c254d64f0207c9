"""One input line of a batch and its progress. The database, not the queue, holds progress."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from batchgate.db.base import Base


class LineState(enum.StrEnum):
    #: waiting to be claimed (possibly until `next_attempt_at_ms`, after a retryable failure)
    pending = "pending"
    #: claimed under a lease; a result is accepted only with the matching `lease_token`
    running = "running"
    #: answered 2xx; goes to the output file
    succeeded = "succeeded"
    #: final failure; goes to the error file
    failed = "failed"
    #: never ran because the batch was cancelled
    cancelled = "cancelled"
    #: never finished because the completion window elapsed
    expired = "expired"


OPEN_STATES = (LineState.pending, LineState.running)


class BatchRequest(Base):
    __tablename__ = "batch_requests"
    __table_args__ = (
        UniqueConstraint("batch_id", "line_no"),
        Index("ix_batch_requests_claim", "batch_id", "state", "next_attempt_at_ms"),
        Index("ix_batch_requests_lease", "state", "lease_expires_at_ms"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # no foreign key: it cost PostgreSQL a lookup per inserted line (migration 0003 says more)
    batch_id: Mapped[str] = mapped_column(String(64))
    #: 1-based physical line number in the input file
    line_no: Mapped[int] = mapped_column(Integer)
    custom_id: Mapped[str] = mapped_column(Text)
    #: where the line's JSON sits in the input file; the body is read from storage when sent
    input_offset: Mapped[int] = mapped_column(BigInteger)
    input_length: Mapped[int] = mapped_column(Integer)

    state: Mapped[str] = mapped_column(String(16), default=LineState.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_token: Mapped[int | None] = mapped_column(BigInteger, default=None)
    lease_expires_at_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)

    #: the upstream's answer, kept verbatim (`response_body` is its raw JSON text)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
