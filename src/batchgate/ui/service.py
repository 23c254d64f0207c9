"""What the batch page reads besides the batch: its files, and the head of its error file.

The error file can be large (each line may carry an upstream's whole error body), so at most
`max_bytes` are read and the stream is closed as soon as `max_lines` whole lines are in.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.errors import NotFound
from batchgate.files import service as files
from batchgate.models import Batch, StoredFile
from batchgate.storage import Storage

MAX_LINES = 20
MAX_BYTES = 256 * 1024
MAX_MESSAGE = 300


@dataclass(frozen=True)
class ErrorLine:
    custom_id: str
    status_code: int | None
    code: str
    message: str


@dataclass(frozen=True)
class ErrorPreview:
    lines: list[ErrorLine]
    #: the file has more than what is shown (or could not all be read within the byte budget)
    more: bool
    #: the file is gone (deleted or expired)
    missing: bool = False


async def _head(chunks: AsyncIterator[bytes], max_lines: int, max_bytes: int) -> tuple[bytes, bool]:
    """Up to `max_lines` whole lines; True if anything is left after them."""
    buffer = bytearray()
    try:
        async for chunk in chunks:
            buffer += chunk
            if buffer.count(b"\n") > max_lines or len(buffer) >= max_bytes:
                break
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()
    whole = bytes(buffer[: buffer.rfind(b"\n") + 1])
    lines = whole.splitlines()
    more = len(lines) > max_lines or len(whole) < len(buffer)
    return b"\n".join(lines[:max_lines]), more


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _error_line(raw: bytes) -> ErrorLine:
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ErrorLine("?", None, "unreadable", _clip(raw.decode(errors="replace")))
    if not isinstance(data, dict):
        data = {}
    response = data.get("response") if isinstance(data.get("response"), dict) else {}
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    status = response.get("status_code")
    return ErrorLine(
        custom_id=str(data.get("custom_id", "?")),
        status_code=status if isinstance(status, int) else None,
        code=str(error.get("code") or ""),
        message=_clip(str(error.get("message") or "")),
    )


async def error_preview(
    session: AsyncSession,
    storage: Storage,
    tenant_id: str,
    file_id: str,
    *,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
) -> ErrorPreview:
    try:
        _, chunks = await files.content(session, storage, tenant_id, file_id)
    except NotFound:
        return ErrorPreview(lines=[], more=False, missing=True)
    try:
        head, more = await _head(chunks, max_lines, max_bytes)
    except FileNotFoundError:  # the row is live but the bytes are gone
        return ErrorPreview(lines=[], more=False, missing=True)
    return ErrorPreview(lines=[_error_line(line) for line in head.splitlines()], more=more)


@dataclass(frozen=True)
class FileLink:
    label: str
    file_id: str
    #: None when the file was deleted or has expired
    row: StoredFile | None


async def batch_files(session: AsyncSession, tenant_id: str, batch: Batch) -> list[FileLink]:
    """The input, output and error files of a batch, those it has."""
    links = []
    for label, file_id in (
        ("output", batch.output_file_id),
        ("errors", batch.error_file_id),
        ("input", batch.input_file_id),
    ):
        if file_id is None:
            continue
        try:
            row: StoredFile | None = await files.get(session, tenant_id, file_id)
        except NotFound:
            row = None
        links.append(FileLink(label, file_id, row))
    return links
