"""What a finished batch amounts to: status, counts, tokens, files, and validation errors."""

from __future__ import annotations

from collections.abc import Sequence

from openai.types import Batch
from rich.console import Console
from rich.table import Table

from batchgate.console import terminal
from batchgate.console.progress import styled_status
from batchgate.console.results import Download


def finished_at(batch: Batch) -> int | None:
    return batch.completed_at or batch.failed_at or batch.expired_at or batch.cancelled_at


def counts_text(batch: Batch) -> str:
    counts = batch.request_counts
    if counts is None:
        return "-"
    failed = f"[red]{counts.failed} failed[/]" if counts.failed else "0 failed"
    return f"{counts.total} total, {counts.completed} completed, {failed}"


def usage_text(batch: Batch) -> str:
    usage = batch.usage
    if usage is None or not usage.total_tokens:
        return "-"
    text = (
        f"{usage.input_tokens:,} input + {usage.output_tokens:,} output"
        f" = {usage.total_tokens:,} tokens"
    )
    cached = usage.input_tokens_details.cached_tokens if usage.input_tokens_details else 0
    reasoning = usage.output_tokens_details.reasoning_tokens if usage.output_tokens_details else 0
    extras = [
        f"{value:,} {name}"
        for name, value in (("cached", cached), ("reasoning", reasoning))
        if value
    ]
    return f"{text} ({', '.join(extras)})" if extras else text


def validation_errors(batch: Batch) -> Table | None:
    """The reasons a batch failed validation, one row per error, with its line number."""
    if batch.errors is None or not batch.errors.data:
        return None
    table = Table(title="validation errors", title_justify="left", expand=False)
    table.add_column("line", justify="right")
    table.add_column("code", style="red")
    table.add_column("message", overflow="fold")
    for error in batch.errors.data:
        message = error.message or ""
        if error.param:
            message = f"{message} (param: {error.param})"
        table.add_row("-" if error.line is None else str(error.line), error.code or "-", message)
    return table


def print_summary(console: Console, batch: Batch, downloads: Sequence[Download]) -> None:
    took = ""
    end = finished_at(batch)
    if end and batch.created_at:
        took = f" in {terminal.duration(end - batch.created_at)}"
    console.print(f"[bold]{batch.id}[/] {styled_status(batch.status)}{took}")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("requests", counts_text(batch))
    grid.add_row("usage", usage_text(batch))
    for item in downloads:
        noun = "line" if item.lines == 1 else "lines"
        grid.add_row(item.kind, f"{item.path} ({item.lines} {noun})")
    if not downloads:
        grid.add_row("files", "none (the batch produced no output or error lines)")
    console.print(grid)
    errors = validation_errors(batch)
    if errors is not None:
        console.print(errors)
    if batch.status in ("expired", "cancelled"):
        console.print(
            f"the batch was {batch.status}: finished lines are in the output file, "
            "the rest are in the error file"
        )
