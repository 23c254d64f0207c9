"""A batch: the OpenAI Batch object plus the engine's bookkeeping."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from batchgate.db.base import Base


class BatchStatus(enum.StrEnum):
    #: input file is being validated
    validating = "validating"
    #: validation failed; `errors` says why
    failed = "failed"
    #: lines are being sent upstream
    in_progress = "in_progress"
    #: every line is done; output and error files are being written
    finalizing = "finalizing"
    #: output and error files are ready
    completed = "completed"
    #: the completion window elapsed; partial output is ready
    expired = "expired"
    #: cancel requested; in-flight lines are finishing
    cancelling = "cancelling"
    #: cancelled; partial output is ready
    cancelled = "cancelled"


TERMINAL_STATUSES = frozenset(
    {BatchStatus.failed, BatchStatus.completed, BatchStatus.expired, BatchStatus.cancelled}
)


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        Index("ix_batches_tenant_id_id", "tenant_id", "id"),
        Index("ix_batches_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    endpoint: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(256), default=None)
    input_file_id: Mapped[str] = mapped_column(ForeignKey("files.id"))
    completion_window: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    output_file_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error_file_id: Mapped[str | None] = mapped_column(String(64), default=None)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    metadata_: Mapped[dict[str, str] | None] = mapped_column("metadata", JSON, default=None)
    #: seconds the output/error files live after they are written (None: 30 days)
    output_expires_after: Mapped[int | None] = mapped_column(Integer, default=None)

    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer)
    in_progress_at: Mapped[int | None] = mapped_column(Integer, default=None)
    finalizing_at: Mapped[int | None] = mapped_column(Integer, default=None)
    completed_at: Mapped[int | None] = mapped_column(Integer, default=None)
    failed_at: Mapped[int | None] = mapped_column(Integer, default=None)
    expired_at: Mapped[int | None] = mapped_column(Integer, default=None)
    cancelling_at: Mapped[int | None] = mapped_column(Integer, default=None)
    cancelled_at: Mapped[int | None] = mapped_column(Integer, default=None)

    # request_counts and usage, moved in the same transaction that records line results
    total: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0)

    #: who holds the batch-level phase (validate / finalize) and until when (epoch ms)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
