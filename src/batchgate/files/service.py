"""Files: streamed uploads, tenant-scoped reads, deletion and purging.

An upload goes straight from the socket to storage in bounded memory: the multipart parser
hands file bytes to a storage writer and, for batch files, to a JSONL scanner. The row is
written only after the bytes are safely stored, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.errors import FileNotFound, InvalidRequest, PayloadTooLarge
from batchgate.files.jsonl_scan import JsonlScanner
from batchgate.files.multipart import read_multipart
from batchgate.files.repository import FileRepository
from batchgate.kit.clock import now_s
from batchgate.kit.ids import new_file_id
from batchgate.models import StoredFile
from batchgate.models.file import UPLOADABLE_PURPOSES, FilePurpose
from batchgate.storage import Storage

log = logging.getLogger(__name__)

DEFAULT_BATCH_FILE_TTL = 30 * 86400
MIN_TTL, MAX_TTL = 3600, 30 * 86400


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_batch_file_bytes: int


def storage_key(file_id: str) -> str:
    return f"files/{file_id}"


def parse_expires_after(anchor: str | None, seconds: str | int | None, param: str) -> int | None:
    """Validate an `expires_after` pair; returns the TTL in seconds (None when not given)."""
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest(
            f"Invalid value for '{param}[anchor]': expected 'created_at'.", param=f"{param}.anchor"
        )
    try:
        ttl = int(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ttl = -1
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidRequest(
            f"Invalid value for '{param}[seconds]': must be an integer between {MIN_TTL} "
            f"and {MAX_TTL}.",
            param=f"{param}.seconds",
        )
    return ttl


def _check_purpose(fields: Mapping[str, str]) -> str:
    purpose = fields.get("purpose")
    if purpose is None:
        raise InvalidRequest(
            "Missing required parameter: 'purpose'.",
            param="purpose",
            code="missing_required_parameter",
        )
    if purpose not in UPLOADABLE_PURPOSES:
        allowed = ", ".join(sorted(UPLOADABLE_PURPOSES))
        raise InvalidRequest(
            f"Invalid value for 'purpose': '{purpose}'. Supported values are: {allowed}.",
            param="purpose",
        )
    return purpose


class _UploadSink:
    """Receives the file part: size limits by purpose, JSONL checks, bytes to storage."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.scanner: JsonlScanner | None = JsonlScanner()
        self.limit = limits.max_file_bytes
        self.size = 0

    async def on_file_start(self, fields: dict[str, str], _filename: str) -> None:
        purpose = fields.get("purpose")
        if purpose == FilePurpose.batch:
            self.limit = self.limits.max_batch_file_bytes
        elif purpose is not None:
            self.scanner = None  # only batch files are JSONL-checked

    def take(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"File exceeds the maximum upload size of {self.limit} bytes.")
        if self.scanner is not None:
            self.scanner.feed(chunk)


async def upload(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    storage: Storage,
    tenant_id: str,
    body: AsyncIterable[bytes],
    content_type: str | None,
    limits: UploadLimits,
) -> StoredFile:
    """Store a multipart upload (`file`, `purpose`, optional `expires_after[...]`).

    No transaction is open while the body streams in (on SQLite that would hold the write
    lock for the whole upload); the row is written in a short one once the bytes are stored.
    """
    file_id = new_file_id()
    key = storage_key(file_id)
    sink = _UploadSink(limits)
    async with storage.open_writer(key) as writer:

        async def on_chunk(chunk: bytes) -> None:
            sink.take(chunk)
            await writer.write(chunk)

        form = await read_multipart(
            body,
            content_type,
            on_file_start=sink.on_file_start,
            on_file_chunk=on_chunk,
            max_file_bytes=max(limits.max_file_bytes, limits.max_batch_file_bytes),
        )
        purpose = _check_purpose(form.fields)
        ttl = parse_expires_after(
            form.fields.get("expires_after[anchor]"),
            form.fields.get("expires_after[seconds]"),
            "expires_after",
        )
        line_count = None
        if purpose == FilePurpose.batch:
            if sink.size > limits.max_batch_file_bytes:
                raise PayloadTooLarge(
                    f"Batch input files are limited to {limits.max_batch_file_bytes} bytes."
                )
            assert sink.scanner is not None  # purpose was unknown or batch when the file began
            sink.scanner.finish()
            line_count = sink.scanner.line_count
            ttl = ttl or DEFAULT_BATCH_FILE_TTL
    created = now_s()
    row = StoredFile(
        id=file_id,
        tenant_id=tenant_id,
        purpose=purpose,
        filename=form.filename or "upload",
        bytes=form.file_bytes,
        line_count=line_count,
        storage_key=key,
        created_at=created,
        expires_at=created + ttl if ttl else None,
    )
    try:
        async with transaction() as session:
            FileRepository(session).add(row)
    except BaseException:
        await storage.delete(key)
        raise
    return row


async def get(session: AsyncSession, tenant_id: str, file_id: str) -> StoredFile:
    row = await FileRepository(session).get_live(tenant_id, file_id, now_s())
    if row is None:
        raise FileNotFound(file_id)
    return row


async def list_files(
    session: AsyncSession,
    tenant_id: str,
    *,
    after: str | None,
    limit: int,
    order: str,
    purpose: str | None,
) -> Sequence[StoredFile]:
    """Up to `limit + 1` files, so the caller can tell whether more exist."""
    return await FileRepository(session).list_live(
        tenant_id,
        now_s(),
        after=after,
        limit=limit + 1,
        descending=order == "desc",
        purpose=purpose,
    )


async def delete(session: AsyncSession, storage: Storage, tenant_id: str, file_id: str) -> None:
    """Hide the file now; its bytes go now too, unless an open batch still reads them (then
    the reconciler purges them when that batch ends)."""
    row = await get(session, tenant_id, file_id)
    repo = FileRepository(session)
    await repo.mark_deleted(file_id, now_s())
    key = row.storage_key  # read first: forget_storage also sets row.storage_key to None
    if key and not await repo.is_input_of_open_batch(file_id):
        await repo.forget_storage(file_id)
        await session.flush()
        await storage.delete(key)


async def content(
    session: AsyncSession, storage: Storage, tenant_id: str, file_id: str
) -> tuple[StoredFile, AsyncIterator[bytes]]:
    row = await get(session, tenant_id, file_id)
    if row.storage_key is None:
        raise FileNotFound(file_id)
    return row, storage.read(row.storage_key)


async def purge_expired(session: AsyncSession, storage: Storage) -> int:
    """Remove the bytes of deleted and expired files that nothing needs any more."""
    repo = FileRepository(session)
    rows = await repo.purgeable(now_s())
    for row in rows:
        assert row.storage_key is not None
        await storage.delete(row.storage_key)
        await repo.forget_storage(row.id)
    if rows:
        log.info("purged %d expired or deleted files", len(rows))
    return len(rows)
