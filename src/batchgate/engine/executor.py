"""The executor: claim due lines, send them upstream, record the results in bulk.

One per process (the API process in the embedded default, each `batchgate worker` otherwise).
It claims what it has free slots for, per upstream, plus a bounded reserve so that a finished
request is replaced without waiting for a database round trip. Results are written in one
atomic write per flush, fenced by lease token, and the counters move in that same write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict, deque
from typing import NamedTuple

from batchgate.engine.context import EngineContext
from batchgate.engine.lines import request_body
from batchgate.engine.repository import ActiveBatch, ClaimedLine, EngineRepository
from batchgate.engine.result_store import LineResult, ResultStore
from batchgate.engine.results import Classifier, Outcome
from batchgate.kit.clock import now_ms
from batchgate.models import BatchStatus, LineState
from batchgate.observability import metrics
from batchgate.queue.base import Job
from batchgate.upstream import Route, UpstreamError

log = logging.getLogger(__name__)

_FLUSH_AT = 256
_OUTCOMES = {
    LineState.succeeded: "succeeded",
    LineState.failed: "failed",
    LineState.pending: "retried",
}
_ACTIVE_TTL_S = 1.0


def _unstorable(outcome: Outcome) -> Outcome:
    """The same line, failed, with nothing from the upstream that could not be stored."""
    values = {
        "state": LineState.failed,
        "status_code": None,
        "request_id": None,
        "response_body": None,
        "error_code": "internal_error",
        "error_message": "batchgate could not store the upstream's answer to this request.",
    }
    return Outcome(outcome.line_id, outcome.token, outcome.batch_id, values, {"failed": 1})


class _Ready(NamedTuple):
    batch: ActiveBatch
    route: Route
    line: ClaimedLine
    token: int
    body: bytes


class Executor:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.classifier = Classifier(ctx.retry)
        self.in_flight: defaultdict[str, int] = defaultdict(int)
        #: claimed lines waiting for a free slot, per upstream
        self.ready: defaultdict[str, deque[_Ready]] = defaultdict(deque)
        #: batches seen leaving in_progress: their reserved lines are handed back, not sent
        self._halted: set[str] = set()
        self._unsent: list[int] = []
        self.results: list[Outcome] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.slot_freed = asyncio.Event()
        self.flush_due = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closing = asyncio.Event()
        self._active: list[ActiveBatch] = []
        self._active_at = 0.0
        self._turn = 0
        self._room = False
        self._unroutable: set[str] = set()
        self._tracked: set[str] = set()  # upstreams whose in-flight gauge reads this executor

    def stop(self) -> None:
        """Stop claiming; `run` then drains in-flight requests and returns."""
        self._stopping.set()

    async def run(self) -> None:
        flusher = asyncio.create_task(self._flush_loop())
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        try:
            await self._claim_loop()
        finally:
            await self._drain()
            # the flusher is asked to stop, never cancelled: cancelling it mid-transaction would
            # lose answers already received, and their lines would be sent again
            self._closing.set()
            self.flush_due.set()
            await flusher
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._flush_all()
            await self._release()

    # --- claiming ------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self._claim_round()
            except Exception:
                log.exception("claiming lines failed; retrying")
                claimed = 0
            if claimed and self._room:
                continue  # slots are still free and there was work: claim again at once
            # idle: poll; full: wake as soon as a slot frees
            await self._wait(self.ctx.config.poll_interval_seconds)

    async def _wait(self, seconds: float) -> None:
        self.slot_freed.clear()
        waiters = [
            asyncio.ensure_future(event.wait())
            for event in (self.slot_freed, self.ctx.work_available, self._stopping)
        ]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _active_batches(self) -> list[ActiveBatch]:
        fresh = time.monotonic() - self._active_at < _ACTIVE_TTL_S
        # an idle executor looks again on every poll: a batch another worker has just made
        # runnable should get this worker's share within one poll interval, not a cache TTL
        if fresh and self._active and not self.ctx.work_available.is_set():
            return self._active
        self.ctx.work_available.clear()
        async with self.ctx.transaction() as session:
            self._active = await EngineRepository(session).active_batches()
        self._active_at = time.monotonic()
        active = {batch.id for batch in self._active}
        reserved = {item.batch.id for ready in self.ready.values() for item in ready}
        self._halted = reserved - active
        for ready in self.ready.values():  # send nothing more for batches no longer running
            self._drop_halted(ready)
        return self._active

    def _reserve_size(self, route: Route) -> int:
        return max(1, min(self.ctx.config.claim_batch_size, route.upstream.max_concurrency // 2))

    def _free_slots(self, route: Route) -> int:
        """How many lines to claim now. A reserve is claimed ahead of the free slots, so a
        finished request is replaced at once instead of after the next claim's round trip;
        it is topped up once half of it is gone, so the next claim overlaps the sends."""
        upstream = route.upstream
        reserve = self._reserve_size(route)
        held = self.in_flight[upstream.name] + len(self.ready[upstream.name])
        free = upstream.max_concurrency + reserve - held
        return free if free >= max(1, reserve // 2) else 0

    async def _claim_round(self) -> int:
        batches = await self._active_batches()
        if not batches:
            return 0
        self._turn = (self._turn + 1) % len(batches)
        claimed = 0
        self._room = False
        for batch in batches[self._turn :] + batches[: self._turn]:  # round-robin across batches
            route = self.ctx.router.resolve(batch.model)
            if route is None:
                if batch.id not in self._unroutable:
                    self._unroutable.add(batch.id)
                    log.error(
                        "batch %s: no upstream routes model %s",
                        batch.id,
                        batch.model,
                        extra={"batch_id": batch.id},
                    )
                continue
            free = self._free_slots(route)
            if free:
                wanted = min(free, self.ctx.config.claim_batch_size)
                got = await self._claim(batch, route, wanted)
                claimed += got
                # a full claim means this batch may have more; fewer means it is drained for now
                self._room = self._room or (got == wanted and self._free_slots(route) > 0)
        return claimed

    async def _claim(self, batch: ActiveBatch, route: Route, limit: int) -> int:
        token = secrets.randbits(62)
        now = now_ms()
        lease_until = now + int(self.ctx.config.lease_seconds * 1000)
        async with self.ctx.runtime.single_statement() as session:
            lines = await EngineRepository(session).claim_lines(
                batch.id, self.ctx.worker_id, token, limit, now, lease_until
            )
        if not lines:
            return 0
        try:
            raws = await self.ctx.runtime.storage.read_ranges(
                batch.input_key, [(line.input_offset, line.input_length) for line in lines]
            )
            bodies = [request_body(raw, route.model) for raw in raws]
        except Exception:
            # hand them back (the next flush does), or they would stay leased to us for good
            self._unsent += [line.id for line in lines]
            raise
        ready = self.ready[route.upstream.name]
        for line, body in zip(lines, bodies, strict=True):
            ready.append(_Ready(batch, route, line, token, body))
        self._dispatch(route)
        return len(lines)

    def _drop_halted(self, ready: deque[_Ready]) -> None:
        kept = [item for item in ready if item.batch.id not in self._halted]
        self._unsent += [item.line.id for item in ready if item.batch.id in self._halted]
        ready.clear()
        ready.extend(kept)

    def _dispatch(self, route: Route) -> None:
        """Start sends from the reserve while the upstream has free slots (no I/O here)."""
        name, limit = route.upstream.name, route.upstream.max_concurrency
        if name not in self._tracked:
            self._tracked.add(name)
            metrics.track_in_flight(name, lambda: self.in_flight[name])
        ready = self.ready[name]
        while ready and self.in_flight[name] < limit and not self._stopping.is_set():
            item = ready.popleft()
            if item.batch.id in self._halted:
                self._unsent.append(item.line.id)  # cancelled or ended since it was claimed
                continue
            self.in_flight[name] += 1
            task = asyncio.create_task(self._send(item))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    # --- sending -------------------------------------------------------------------------------

    async def _send(self, item: _Ready) -> None:
        batch, route, line, token, body = item
        deadline_ms = batch.expires_at * 1000
        upstream = route.upstream.name
        started = time.perf_counter()
        try:
            try:
                response = await self.ctx.client.send(route, batch.endpoint, body)
            except UpstreamError as error:
                values, deltas = self.classifier.exception(
                    error, line.attempts, now_ms(), deadline_ms
                )
            except Exception as error:  # a bug must not leave the line leased forever
                log.exception("sending line %d failed unexpectedly", line.id)
                values, deltas = self.classifier.exception(
                    error, line.attempts, now_ms(), deadline_ms
                )
            else:
                values, deltas = self.classifier.response(
                    response, line.attempts, now_ms(), deadline_ms
                )
            metrics.upstream_seconds(upstream).observe(time.perf_counter() - started)
            metrics.line_counter(upstream, batch.model, _OUTCOMES[values["state"]]).inc()
            self.results.append(Outcome(line.id, token, batch.id, values, deltas))
            if len(self.results) >= _FLUSH_AT:
                self.flush_due.set()
        finally:
            self.in_flight[upstream] -= 1
            self._dispatch(route)
            # wake the claim loop only when a claim is due, not on every answer: each wake-up
            # costs it a round of waiter tasks, thousands of times a second
            if self._free_slots(route):
                self.slot_freed.set()

    # --- recording -----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.flush_due.wait(), self.ctx.config.flush_interval_seconds
                )
            self.flush_due.clear()
            await self._flush_all()

    async def _flush_all(self) -> None:
        while self.results or self._unsent:
            if self._unsent:
                unsent, self._unsent = self._unsent, []
                try:
                    async with self.ctx.runtime.single_statement() as session:
                        await EngineRepository(session).return_unsent(self.ctx.worker_id, unsent)
                except Exception:
                    # kept, not forgotten: our heartbeat would renew their leases for good
                    log.exception("handing back %d unsent lines failed", len(unsent))
                    self._unsent = unsent + self._unsent
                    await asyncio.sleep(1.0)
                    return
            outcomes, self.results = self.results, []
            if not outcomes:
                continue
            try:
                await self._record(outcomes)
            except Exception:
                log.exception("recording %d results failed; retrying one by one", len(outcomes))
                left = await self._record_one_by_one(outcomes)
                if left is None:
                    continue
                # the database is unreachable: keep everything (our leases are still renewed)
                self.results = left + self.results
                await asyncio.sleep(1.0)
                return

    async def _record_one_by_one(self, outcomes: list[Outcome]) -> list[Outcome] | None:
        """Isolate a result the database refuses, so it cannot stall every other one: it is
        recorded as a failed line instead. Returns what is left if the database itself fails."""
        for index, outcome in enumerate(outcomes):
            try:
                await self._record([outcome])
                continue
            except Exception:
                log.exception("line %d: its result cannot be stored", outcome.line_id)
            try:
                await self._record([_unstorable(outcome)])
            except Exception:
                return outcomes[index:]
        return None

    async def _record(self, outcomes: list[Outcome]) -> None:
        # one statement on PostgreSQL (results, fences and counters together); a transaction
        # of several on SQLite
        async with self.ctx.runtime.single_statement() as session:
            recorded = await ResultStore(session).record(
                [LineResult(o.line_id, o.token, o.batch_id, o.values, o.deltas) for o in outcomes]
            )
        if len(recorded.written) < len(outcomes):
            log.warning(
                "dropped %d results whose lease had moved on",
                len(outcomes) - len(recorded.written),
            )
        for counters in recorded.batches:
            if counters.status != BatchStatus.in_progress:
                self._halted.add(counters.batch_id)
            done = counters.completed + counters.failed >= counters.total
            if counters.status == BatchStatus.cancelling or (
                counters.status == BatchStatus.in_progress and done
            ):
                # after the commit, as the outbox would: the results are visible by now
                await self.ctx.runtime.queue.enqueue(Job.finalize_batch, counters.batch_id)

    async def _heartbeat_loop(self) -> None:
        lease_ms = int(self.ctx.config.lease_seconds * 1000)
        while True:
            await asyncio.sleep(self.ctx.config.lease_seconds / 3)
            try:
                async with self.ctx.transaction() as session:
                    await EngineRepository(session).extend_line_leases(
                        self.ctx.worker_id, now_ms() + lease_ms
                    )
            except Exception:
                log.exception("renewing line leases failed")

    # --- shutting down -------------------------------------------------------------------------

    async def _drain(self) -> None:
        if self.tasks:
            log.info("draining %d in-flight requests", len(self.tasks))
            _, pending = await asyncio.wait(set(self.tasks), timeout=self.ctx.config.drain_seconds)
            for task in pending:
                task.cancel()

    async def _release(self) -> None:
        unsent = [item.line.id for ready in self.ready.values() for item in ready] + self._unsent
        self.ready.clear()
        try:
            async with self.ctx.transaction() as session:
                repo = EngineRepository(session)
                await repo.return_unsent(self.ctx.worker_id, unsent)
                released = await repo.release_lines(self.ctx.worker_id)
        except Exception:
            log.exception("releasing leases failed; they will expire instead")
            return
        if released:
            log.info("released %d unfinished lines", released)
