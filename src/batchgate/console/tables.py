"""Batches as tables: one row per batch for `list`, every field of one batch for `show`."""

from __future__ import annotations

from collections.abc import Iterable

from openai.types import Batch
from rich.console import Group, RenderableType
from rich.table import Table

from batchgate.console import terminal
from batchgate.console.progress import styled_status
from batchgate.console.summary import counts_text, finished_at, usage_text, validation_errors


def progress_text(batch: Batch) -> str:
    counts = batch.request_counts
    if counts is None or not counts.total:
        return "-"
    return f"{counts.completed + counts.failed}/{counts.total}"


def batch_list(batches: Iterable[Batch]) -> Table:
    table = Table(expand=False)
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("done/total", justify="right", no_wrap=True)
    table.add_column("failed", justify="right")
    table.add_column("model", overflow="fold")
    table.add_column("endpoint", overflow="fold")
    table.add_column("created", no_wrap=True)
    table.add_column("finished", no_wrap=True)
    for batch in batches:
        failed = batch.request_counts.failed if batch.request_counts else 0
        table.add_row(
            batch.id,
            styled_status(batch.status),
            progress_text(batch),
            f"[red]{failed}[/]" if failed else "0",
            batch.model or "-",
            batch.endpoint,
            terminal.local_time(batch.created_at),
            terminal.local_time(finished_at(batch)),
        )
    return table


_TIMESTAMPS = (
    ("created", "created_at"),
    ("in progress", "in_progress_at"),
    ("finalizing", "finalizing_at"),
    ("completed", "completed_at"),
    ("failed", "failed_at"),
    ("cancelling", "cancelling_at"),
    ("cancelled", "cancelled_at"),
    ("expired", "expired_at"),
    ("expires", "expires_at"),
)


def batch_detail(batch: Batch) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("id", f"[bold]{batch.id}[/]")
    grid.add_row("status", styled_status(batch.status))
    grid.add_row("endpoint", batch.endpoint)
    grid.add_row("model", batch.model or "-")
    grid.add_row("window", batch.completion_window)
    grid.add_row("requests", counts_text(batch))
    grid.add_row("usage", usage_text(batch))
    for label, attribute in _TIMESTAMPS:
        grid.add_row(label, terminal.when(getattr(batch, attribute)))
    grid.add_row("input file", batch.input_file_id)
    grid.add_row("output file", batch.output_file_id or "-")
    grid.add_row("error file", batch.error_file_id or "-")
    metadata = ", ".join(f"{key}={value}" for key, value in (batch.metadata or {}).items())
    grid.add_row("metadata", metadata or "-")
    errors = validation_errors(batch)
    if errors is None:
        grid.add_row("errors", "-")
        return grid
    return Group(grid, errors)
