"""Preparing a submission: the endpoint from the file, metadata pairs, and the upload itself."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openai import OpenAI
from openai.types import FileObject
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from batchgate.console import terminal
from batchgate.console.errors import ConsoleError

#: files at least this big get an upload progress bar (on a terminal)
PROGRESS_FROM_BYTES = 1_000_000


def check_file(path: Path) -> None:
    if not path.is_file():
        raise ConsoleError(f"{path}: no such file")


def infer_endpoint(path: Path) -> str:
    """The `url` of the first non-blank line: the endpoint every line must name anyway."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line: Any = json.loads(raw)
            except ValueError:
                raise ConsoleError(
                    f"{path}:{number}: not JSON, so the endpoint cannot be read from it; "
                    "fix the line or pass --endpoint"
                ) from None
            url = line.get("url") if isinstance(line, dict) else None
            if not isinstance(url, str) or not url:
                raise ConsoleError(f'{path}:{number}: no "url" field; pass --endpoint')
            return url
    raise ConsoleError(f"{path}: the file has no requests")


def parse_metadata(pairs: Sequence[str]) -> dict[str, str] | None:
    """`["job=nightly", "team=search"]` -> `{"job": "nightly", "team": "search"}`."""
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConsoleError(f"--metadata {pair!r}: expected KEY=VALUE")
        metadata[key] = value
    return metadata or None


class _ReportingFile(io.FileIO):
    """A file that tells `on_read` how far it has been read (httpx streams uploads in chunks)."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(path, "rb")
        self._on_read = on_read

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._on_read(self.tell())
        return data


def upload(client: OpenAI, path: Path, console: Console) -> FileObject:
    """Upload `path` with `purpose=batch`; a progress bar for big files on a terminal."""
    total = path.stat().st_size
    if total < PROGRESS_FROM_BYTES or not terminal.live(console):
        with path.open("rb") as plain:
            uploaded = client.files.create(file=(path.name, plain), purpose="batch")
    else:
        columns = (
            TextColumn("uploading {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(path.name, total=total)

            def advance(done: int) -> None:
                progress.update(task, completed=done)

            with _ReportingFile(path, advance) as handle:
                uploaded = client.files.create(file=(path.name, handle), purpose="batch")
    console.print(f"uploaded {path} ({terminal.size(total)}) as [bold]{uploaded.id}[/]")
    return uploaded
