"""Showing a batch's progress while waiting: a live rich bar on a terminal, plain lines elsewhere.

Both displays show the same facts: status, done (= completed + failed) of total, failed, the
rate in lines per second over the last few seconds, and the time left at that rate.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from openai.types import Batch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from batchgate.console import terminal

TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})

STATUS_STYLES = {
    "validating": "yellow",
    "in_progress": "cyan",
    "finalizing": "blue",
    "completed": "green",
    "failed": "red",
    "expired": "red",
    "cancelling": "magenta",
    "cancelled": "magenta",
}

#: how often the plain display prints a line while the numbers move
PLAIN_EVERY_SECONDS = 5.0


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLES.get(status, 'white')}]{status}[/]"


class RateMeter:
    """Lines per second over a sliding window of (time, done) samples."""

    def __init__(self, window_seconds: float = 10.0) -> None:
        self.window = window_seconds
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, done: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        if t1 - t0 < 0.5:
            return None
        return max(0, d1 - d0) / (t1 - t0)


@dataclass(frozen=True)
class Snapshot:
    """What the displays show about one poll of the batch."""

    status: str
    done: int
    total: int
    failed: int
    rate: float | None

    @classmethod
    def of(cls, batch: Batch, rate: float | None) -> Snapshot:
        counts = batch.request_counts
        completed, failed, total = (
            (counts.completed, counts.failed, counts.total) if counts else (0, 0, 0)
        )
        return cls(batch.status, completed + failed, total, failed, rate)

    @property
    def rate_text(self) -> str:
        return "-" if self.rate is None else f"{self.rate:.1f} lines/s"

    @property
    def eta_text(self) -> str:
        if self.status in TERMINAL_STATUSES or (self.total and self.done >= self.total):
            return "-"
        if not self.rate or not self.total:
            return "?"
        return terminal.duration((self.total - self.done) / self.rate)


class LiveDisplay:
    """A rich progress bar, redrawn in place."""

    def __init__(self, console: Console, batch_id: str) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[status]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID = self.progress.add_task(
            batch_id, total=None, status="", failed="", rate="", eta="?"
        )

    def __enter__(self) -> LiveDisplay:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def show(self, snap: Snapshot) -> None:
        failed = f"[red]{snap.failed} failed[/]" if snap.failed else "0 failed"
        self.progress.update(
            self.task,
            total=snap.total or None,
            completed=snap.done,
            status=styled_status(snap.status),
            failed=failed,
            rate=snap.rate_text,
            eta=snap.eta_text,
        )
        if snap.status in TERMINAL_STATUSES:
            self.progress.stop_task(self.task)


class PlainDisplay:
    """One line when the status changes, and every few seconds while the numbers move."""

    def __init__(self, console: Console, batch_id: str) -> None:
        self.console, self.batch_id = console, batch_id
        self.last: Snapshot | None = None
        self.last_at = 0.0

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def show(self, snap: Snapshot) -> None:
        now = time.monotonic()
        last = self.last
        changed = last is None or snap.status != last.status
        moving = last is not None and snap.done != last.done
        if not changed and not (moving and now - self.last_at >= PLAIN_EVERY_SECONDS):
            return
        self.last, self.last_at = snap, now
        total = snap.total or "?"
        self.console.print(
            f"{time.strftime('%H:%M:%S')} {self.batch_id} {snap.status}: "
            f"{snap.done}/{total} done, {snap.failed} failed, "
            f"{snap.rate_text}, ETA {snap.eta_text}",
            markup=False,
        )


def display_for(console: Console, batch_id: str) -> LiveDisplay | PlainDisplay:
    if terminal.live(console):
        return LiveDisplay(console, batch_id)
    return PlainDisplay(console, batch_id)
