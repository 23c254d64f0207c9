"""What the dashboard shows of a batch: progress, timeline, metadata, usage — no I/O here.

Times are unix seconds, as the database stores them; `utc` and `ago` turn them into
`2025-01-02 03:04:05 UTC` and `3 min ago` for the templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from batchgate.models import Batch
from batchgate.models.batch import TERMINAL_STATUSES, BatchStatus

#: the moments of a batch's life, in the order they happen
_TIMELINE = (
    ("created", "created_at"),
    ("in progress", "in_progress_at"),
    ("finalizing", "finalizing_at"),
    ("cancelling", "cancelling_at"),
    ("completed", "completed_at"),
    ("failed", "failed_at"),
    ("expired", "expired_at"),
    ("cancelled", "cancelled_at"),
)
_FINISHED = ("completed_at", "failed_at", "expired_at", "cancelled_at")


def utc(ts: int | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def ago(ts: int | None, now: int) -> str:
    """`just now`, `3 min ago`, `in 23 h 59 min`."""
    if ts is None:
        return ""
    delta = now - ts
    if abs(delta) < 5:
        return "just now"
    return f"{_span(delta)} ago" if delta > 0 else f"in {_span(-delta)}"


def duration(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return ""
    return _span(max(0, end - start))


def is_live(batch: Batch) -> bool:
    """Still changing: the page showing it keeps refreshing."""
    return batch.status not in TERMINAL_STATUSES


def any_live(batches: Iterable[Batch]) -> bool:
    return any(is_live(b) for b in batches)


def finished_at(batch: Batch) -> int | None:
    for attr in _FINISHED:
        value: int | None = getattr(batch, attr)
        if value is not None:
            return value
    return None


def cancellable(batch: Batch) -> bool:
    return batch.status in (BatchStatus.validating, BatchStatus.in_progress)


@dataclass(frozen=True)
class Progress:
    total: int
    completed: int
    failed: int

    @property
    def done(self) -> int:
        return self.completed + self.failed

    def _pct(self, part: int) -> float:
        return round(100 * part / self.total, 2) if self.total else 0.0

    @property
    def ok_pct(self) -> float:
        return self._pct(self.completed)

    @property
    def failed_pct(self) -> float:
        return self._pct(self.failed)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def progress(batch: Batch) -> Progress:
    return Progress(total=batch.total, completed=batch.completed, failed=batch.failed)


@dataclass(frozen=True)
class Moment:
    label: str
    at: int
    future: bool = False


def timeline(batch: Batch, now: int) -> list[Moment]:
    """The timestamps a batch has, in lifecycle order, then its deadline."""
    moments = [
        Moment(label, value)
        for label, attr in _TIMELINE
        if (value := getattr(batch, attr)) is not None
    ]
    if batch.expires_at is not None:
        label = "expires" if batch.expires_at > now else "deadline"
        moments.append(Moment(label, batch.expires_at, future=batch.expires_at > now))
    return moments


def metadata_summary(metadata: Mapping[str, str] | None, limit: int = 60) -> str:
    if not metadata:
        return ""
    text = ", ".join(f"{k}={v}" for k, v in metadata.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    total_tokens: int


def usage(batch: Batch) -> Usage:
    return Usage(
        input_tokens=batch.input_tokens,
        cached_tokens=batch.cached_tokens,
        output_tokens=batch.output_tokens,
        reasoning_tokens=batch.reasoning_tokens,
        total_tokens=batch.total_tokens,
    )
