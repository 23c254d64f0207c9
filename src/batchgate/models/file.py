"""Uploaded and generated files. The bytes live in storage; this row is the index."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from batchgate.db.base import Base


class FilePurpose(enum.StrEnum):
    assistants = "assistants"
    batch = "batch"
    fine_tune = "fine-tune"
    vision = "vision"
    user_data = "user_data"
    evals = "evals"
    #: output and error files of a batch (never uploadable)
    batch_output = "batch_output"


UPLOADABLE_PURPOSES = frozenset(p.value for p in FilePurpose if p is not FilePurpose.batch_output)


class StoredFile(Base):
    __tablename__ = "files"
    __table_args__ = (Index("ix_files_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(512))
    bytes: Mapped[int] = mapped_column(BigInteger)
    #: number of non-blank lines, for JSONL files
    line_count: Mapped[int | None] = mapped_column(Integer, default=None)
    #: where the bytes are; None once purged from storage
    storage_key: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    #: set by DELETE or expiry; the row stays until its bytes are purged and no batch needs them
    deleted_at: Mapped[int | None] = mapped_column(Integer, default=None)
