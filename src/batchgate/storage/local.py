"""A directory on local disk (or a shared volume)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

from batchgate.storage.base import StorageWriter, check_key

# Buffer small writes so each thread hop moves a useful amount of data.
_FLUSH_BYTES = 1024 * 1024


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
        return await asyncio.to_thread(_pread_all, self._path(key), ranges)

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


def _pread_all(path: Path, ranges: list[tuple[int, int]]) -> list[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return [os.pread(fd, length, offset) for offset, length in ranges]
    finally:
        os.close(fd)
