"""A directory on local disk (or a shared volume)."""

from __future__ import annotations

import asyncio
import bisect
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

from batchgate.storage.base import StorageWriter, check_key

# Buffer small writes so each thread hop moves a useful amount of data.
_FLUSH_BYTES = 1024 * 1024
#: reads up to this size run on the event loop; larger ones go to a thread
_INLINE_READ_BYTES = 256 * 1024
#: ranges this close together are read as one span (the gap is read and dropped)
_GAP_BYTES = 4096


class _LocalWriter:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._buffer = bytearray()

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= _FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._buffer:
            data, self._buffer = bytes(self._buffer), bytearray()
            await asyncio.to_thread(self._handle.write, data)


class LocalStorage:
    """Objects are files under `root`; writes go to `root/.tmp` and are renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / ".tmp"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    @asynccontextmanager
    async def open_writer(self, key: str) -> AsyncIterator[StorageWriter]:
        final = self._path(key)
        await asyncio.to_thread(self._tmp.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        tmp = self._tmp / f"{secrets.token_hex(8)}.part"
        handle = await asyncio.to_thread(open, tmp, "wb")
        writer = _LocalWriter(handle)
        try:
            yield writer
            await writer.flush()
            await asyncio.to_thread(_fsync_close, handle)
            await asyncio.to_thread(os.replace, tmp, final)
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise

    async def read(self, key: str, *, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def read_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        path = self._path(key)
        spans = _spans(ranges)
        if sum(length for _, length in spans) <= _INLINE_READ_BYTES:
            # a claim's lines, written by validation moments before and still in the page
            # cache: reading them costs less than the hop to a thread and back
            return _pread_all(path, ranges, spans)
        return await asyncio.to_thread(_pread_all, path, ranges, spans)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def check(self) -> None:
        probe = self._tmp / f"ready-{secrets.token_hex(4)}"
        await asyncio.to_thread(self._tmp.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(probe.write_bytes, b"ok")
        await asyncio.to_thread(probe.unlink)


def _fsync_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _spans(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges merged where they touch or nearly do: claimed lines are mostly consecutive,
    so a claim of 128 lines is usually one read, not 128."""
    spans: list[tuple[int, int]] = []
    for offset, length in sorted(ranges):
        if spans and offset - (spans[-1][0] + spans[-1][1]) <= _GAP_BYTES:
            start = spans[-1][0]
            spans[-1] = (start, max(spans[-1][1], offset + length - start))
        else:
            spans.append((offset, length))
    return spans


def _pread_all(
    path: Path, ranges: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> list[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        blocks = [(start, os.pread(fd, length, start)) for start, length in spans]
    finally:
        os.close(fd)
    out = []
    for offset, length in ranges:
        # the span holding this range: the last one starting at or before it
        start, block = blocks[bisect.bisect_right(blocks, offset, key=lambda b: b[0]) - 1]
        piece = block[offset - start : offset - start + length]
        if len(piece) != length:
            raise OSError(f"short read at offset {offset}: the stored file is truncated")
        out.append(piece)
    return out
