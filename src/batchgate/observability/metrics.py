"""Prometheus metrics.

Two kinds: counters and histograms that each process keeps about its own work (the executor's
sends, per upstream and model), and gauges read from the database at scrape time (batches by
status, lines waiting), which are the same whichever replica is scraped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.models import Batch, BatchRequest, BatchStatus, LineState

LINES = Counter(
    "batchgate_lines_total",
    "Upstream answers recorded by this process, by outcome (succeeded, failed, retried).",
    ["upstream", "model", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "batchgate_upstream_request_seconds",
    "Time from sending a line upstream to its answer (or failure).",
    ["upstream"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
IN_FLIGHT = Gauge(
    "batchgate_upstream_in_flight", "Requests this process has in flight.", ["upstream"]
)
BATCHES = Gauge("batchgate_batches", "Batches by status (all tenants).", ["status"])
LINES_WAITING = Gauge(
    "batchgate_lines_waiting", "Lines of running batches not yet answered (pending or leased)."
)
OLDEST_WAITING = Gauge(
    "batchgate_oldest_waiting_seconds",
    "Age of the oldest running batch that still has unanswered lines.",
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


# Bound children, cached: the executor updates these for every line, and `labels()` is not free.


#: model names come from clients: past this many, further ones are counted as "other", so no
#: tenant can grow every worker's memory and every scrape with made-up names
MAX_MODEL_LABELS = 100
_models: set[str] = set()


def line_counter(upstream: str, model: str, outcome: str) -> Counter:
    if model not in _models:
        if len(_models) >= MAX_MODEL_LABELS:
            model = "other"
        else:
            _models.add(model)
    return _line_counter(upstream, model, outcome)


@lru_cache(maxsize=4096)
def _line_counter(upstream: str, model: str, outcome: str) -> Counter:
    return LINES.labels(upstream=upstream, model=model, outcome=outcome)


@lru_cache(maxsize=256)
def upstream_seconds(upstream: str) -> Histogram:
    return UPSTREAM_SECONDS.labels(upstream=upstream)


def track_in_flight(upstream: str, read: Callable[[], int]) -> None:
    """Report `read()` as the upstream's in-flight count, evaluated at scrape time rather than
    moved twice per request."""
    IN_FLIGHT.labels(upstream=upstream).set_function(read)


async def refresh_database_gauges(session: AsyncSession) -> None:
    rows = await session.execute(select(Batch.status, func.count()).group_by(Batch.status))
    by_status = {status: count for status, count in rows.tuples()}
    for status in BatchStatus:
        BATCHES.labels(status=status.value).set(by_status.get(status.value, 0))
    waiting = await session.scalar(
        select(func.count())
        .select_from(BatchRequest)
        .where(BatchRequest.state.in_([LineState.pending, LineState.running]))
    )
    LINES_WAITING.set(waiting or 0)
    oldest = await session.scalar(
        select(func.min(Batch.in_progress_at)).where(Batch.status == BatchStatus.in_progress)
    )
    OLDEST_WAITING.set(time.time() - oldest if oldest else 0)


def exposition() -> bytes:
    return generate_latest()
