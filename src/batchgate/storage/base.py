"""The storage interface every backend implements."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


def check_key(key: str) -> str:
    """Keys are ours, but refuse anything that could escape the store all the same."""
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"invalid storage key {key!r}")
    return key


class StorageWriter(Protocol):
    async def write(self, chunk: bytes) -> None: ...


class Storage(Protocol):
    def open_writer(self, key: str) -> AbstractAsyncContextManager[StorageWriter]:
        """Stream bytes to `key`. The object appears, whole, only if the block exits cleanly;
        on an exception nothing is left behind. Re-writing a key replaces it atomically."""
        ...

    def read(self, key: str, *, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """Stream an object's bytes."""
        ...

    async def read_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """Read several (offset, length) slices of one object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove an object; a missing object is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def check(self) -> None:
        """Raise if the store is unreachable or not writable (readiness probe)."""
        ...
