"""The delivery loop: claim due deliveries under a lease, POST them, record what happened.

Every engine process runs one (each `batchgate worker`, or `batchgate serve` in the embedded
default), beside the executor and the reconciler. State lives in `webhook_deliveries`, so a
restart loses nothing: a delivery waiting for a retry is picked up by whichever process polls
first once it is due, and one a crashed process was sending falls due again when its lease
(the send timeout plus `BATCHGATE_LEASE_SECONDS`) runs out. Delivery is at least once; the
`webhook-id` header (the event id) lets receivers drop repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from batchgate.kit.clock import now_ms
from batchgate.models import DeliveryState
from batchgate.runtime import Runtime
from batchgate.settings import Settings
from batchgate.webhooks.repository import ClaimedDelivery, DeliveryRepository
from batchgate.webhooks.schedule import RetrySchedule
from batchgate.webhooks.sender import Attempt, open_session, post

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryConfig:
    timeout_seconds: float = 10.0
    max_concurrency: int = 16
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    #: added to the timeout to make the lease: how long a dead sender's delivery waits
    lease_margin_seconds: float = 30.0
    #: how often an idle loop looks for due deliveries
    poll_interval_seconds: float = 0.5

    @classmethod
    def of(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_concurrency=settings.webhook_max_concurrency,
            schedule=RetrySchedule(
                base_seconds=settings.webhook_retry_base_seconds,
                max_age_seconds=settings.webhook_max_age_seconds,
            ),
            lease_margin_seconds=settings.lease_seconds,
        )


class WebhookDeliveries:
    def __init__(self, runtime: Runtime, config: DeliveryConfig, worker_id: str) -> None:
        self.runtime = runtime
        self.config = config
        self.worker_id = worker_id
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Until `stopping` is set; then let the sends in flight finish (each is bounded by the
        timeout) and record them."""
        session = open_session(self.config.max_concurrency)
        try:
            while not stopping.is_set():
                # fewer than the free slots claimed: nothing else is due; as many: no slot is
                # left. Either way the next look is after a pause.
                claimed = await self._claim_some()
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(session, delivery))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.config.poll_interval_seconds)
        finally:
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
            await session.close()

    async def _claim_some(self) -> list[ClaimedDelivery]:
        free = self.config.max_concurrency - len(self._sending)
        if free <= 0:
            return []
        lease_ms = int((self.config.timeout_seconds + self.config.lease_margin_seconds) * 1000)
        try:
            async with self.runtime.transaction() as session:
                now = now_ms()
                return await DeliveryRepository(session).claim(
                    self.worker_id, secrets.randbits(62), free, now, now + lease_ms
                )
        except Exception:
            log.exception("claiming webhook deliveries failed; retrying")
            return []

    async def _deliver(self, http: aiohttp.ClientSession, delivery: ClaimedDelivery) -> None:
        """Send and record; if either fails unexpectedly the lease runs out and it is resent."""
        try:
            attempt = await post(
                http,
                delivery.url,
                delivery.event_id,
                delivery.payload,
                delivery.secrets,
                self.config.timeout_seconds,
            )
            values, retry_at = self._outcome(delivery, attempt)
            async with self.runtime.transaction() as session:
                recorded = await DeliveryRepository(session).record(
                    delivery.id, delivery.token, values
                )
        except Exception:
            log.exception(
                "sending or recording webhook %s (%s) failed; it will be sent again",
                delivery.event_id,
                delivery.event_type,
                extra={"batch_id": delivery.batch_id},
            )
            return
        if recorded:
            self._log(delivery, attempt, values["state"], retry_at)

    def _outcome(
        self, delivery: ClaimedDelivery, attempt: Attempt
    ) -> tuple[dict[str, Any], int | None]:
        now = now_ms()
        values: dict[str, Any] = {
            "last_attempt_at": now // 1000,
            "last_status_code": attempt.status,
            "last_error": None if attempt.delivered else attempt.describe(),
        }
        if attempt.delivered:
            return {**values, "state": DeliveryState.delivered, "delivered_at": now // 1000}, None
        retry_at = self.config.schedule.next_attempt_ms(delivery.attempts, delivery.created_at, now)
        if retry_at is None:
            return {**values, "state": DeliveryState.failed}, None
        return {**values, "state": DeliveryState.pending, "next_attempt_at_ms": retry_at}, retry_at

    @staticmethod
    def _log(delivery: ClaimedDelivery, attempt: Attempt, state: str, retry_at: int | None) -> None:
        what = (delivery.event_id, delivery.event_type, delivery.endpoint_id, delivery.attempts)
        extra = {"batch_id": delivery.batch_id}
        if state == DeliveryState.delivered:
            log.info("webhook %s (%s) delivered to %s, attempt %d", *what, extra=extra)
        elif state == DeliveryState.failed:
            log.warning(
                "webhook %s (%s) to %s given up after %d attempts (last: %s)",
                *what,
                attempt.describe(),
                extra=extra,
            )
        else:
            wait = ((retry_at or 0) - now_ms()) / 1000
            log.warning(
                "webhook %s (%s) to %s failed, attempt %d (%s); retry in %.1fs",
                *what,
                attempt.describe(),
                wait,
                extra=extra,
            )
