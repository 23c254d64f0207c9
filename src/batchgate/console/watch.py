"""Waiting for a batch: poll about once a second, show progress, then download and summarise.

Ctrl-C stops the waiting, never the batch: the batch keeps running on the server and
`batchgate batches watch ID` picks it up again.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import openai
from openai import OpenAI
from openai.types import Batch
from rich.console import Console

from batchgate.console import terminal
from batchgate.console.connection import Connection
from batchgate.console.errors import ConsoleError, describe
from batchgate.console.progress import TERMINAL_STATUSES, RateMeter, Snapshot, display_for
from batchgate.console.results import Download, download
from batchgate.console.summary import print_summary

POLL_SECONDS = 1.0
#: how long the server may be unreachable (or answer 5xx) before waiting gives up
GIVE_UP_AFTER_SECONDS = 60.0
#: the exit status of a process stopped by Ctrl-C
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Finished:
    batch: Batch
    downloads: list[Download] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when the batch completed (even with failed lines), 1 when it failed, expired or
        was cancelled."""
        return 0 if self.batch.status == "completed" else 1


def resume_command(batch_id: str, output_dir: Path, conn: Connection) -> str:
    words = ["batchgate", "batches", "watch", batch_id]
    if output_dir != Path("."):
        words += ["--output", str(output_dir)]
    if conn.explicit_url:
        words += ["--base-url", conn.base_url]
    return shlex.join(words)


def _poll(client: OpenAI, batch_id: str, console: Console, base_url: str) -> Batch:
    meter = RateMeter()
    failing_since: float | None = None
    batch = client.batches.retrieve(batch_id)  # a wrong URL, key or id fails here, at once
    with display_for(console, batch_id) as display:
        while True:
            counts = batch.request_counts
            meter.add(counts.completed + counts.failed if counts else 0)
            display.show(Snapshot.of(batch, meter.rate()))
            if batch.status in TERMINAL_STATUSES:
                return batch
            time.sleep(POLL_SECONDS)
            try:
                batch = client.batches.retrieve(batch_id)
            except (openai.APIConnectionError, openai.InternalServerError) as exc:
                # the server went away after answering: a restart, most likely; keep waiting
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                    console.print(f"{describe(exc, base_url)}; still trying", markup=False)
                elif now - failing_since > GIVE_UP_AFTER_SECONDS:
                    raise ConsoleError(describe(exc, base_url)) from None
                continue
            failing_since = None


def wait(
    client: OpenAI,
    batch_id: str,
    output_dir: Path,
    conn: Connection,
    *,
    console: Console,
    resumable: bool = True,
) -> Finished:
    """Wait until the batch is finished, download its files into `output_dir`, and print the
    summary. On Ctrl-C: print how to resume and exit 130 (`resumable`), or re-raise."""
    try:
        batch = _poll(client, batch_id, console, conn.base_url)
        finished = Finished(batch, download(client, batch, output_dir))
    except KeyboardInterrupt:
        if not resumable:
            raise
        hint = terminal.err()
        hint.print(
            f"\nStopped waiting. [bold]{batch_id}[/] keeps running on the server; "
            "to pick it up again:"
        )
        hint.print(f"  {resume_command(batch_id, output_dir, conn)}", markup=False)
        raise SystemExit(EXIT_INTERRUPTED) from None
    print_summary(console, finished.batch, finished.downloads)
    return finished
