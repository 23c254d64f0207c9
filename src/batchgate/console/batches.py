"""`batchgate batches list | show ID | cancel ID | watch ID`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from batchgate.console import tables
from batchgate.console.connection import Connection
from batchgate.console.progress import styled_status
from batchgate.console.watch import wait


def list_batches(conn: Connection, console: Console, limit: int) -> None:
    page = conn.client().batches.list(limit=limit)
    if not page.data:
        console.print("no batches yet")
        return
    console.print(tables.batch_list(page.data))
    if page.has_more:
        console.print(f"showing the newest {len(page.data)}; pass --limit for more")


def show(conn: Connection, console: Console, batch_id: str) -> None:
    console.print(tables.batch_detail(conn.client().batches.retrieve(batch_id)))


def cancel(conn: Connection, console: Console, batch_id: str) -> None:
    batch = conn.client().batches.cancel(batch_id)
    console.print(f"{batch.id} {styled_status(batch.status)}")
    if batch.status == "cancelling":
        console.print(
            "lines in flight finish; lines never sent come back as batch_cancelled errors. "
            f"Follow it with: batchgate batches watch {batch.id}",
            markup=False,
        )


def watch(conn: Connection, console: Console, batch_id: str, output_dir: Path) -> int:
    return wait(conn.client(), batch_id, output_dir, conn, console=console).exit_code
