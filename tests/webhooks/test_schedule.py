"""The retry ladder and the signing helpers, without a server."""

from __future__ import annotations

import time

from openai import OpenAI

from batchgate.webhooks.schedule import RetrySchedule
from batchgate.webhooks.signing import new_secret, signature_header


def test_default_ladder_is_5s_30s_2m_10m_30m_then_hourly_for_a_day() -> None:
    schedule = RetrySchedule()
    delays = [schedule.delay_seconds(n) for n in range(1, 10)]
    assert delays == [5, 30, 120, 600, 1800, 3600, 3600, 3600, 3600]
    # replay a receiver that never answers 2xx: attempts stop a day after the event
    now_ms, attempts = 0, 1
    while (due := schedule.next_attempt_ms(attempts, 0, now_ms)) is not None:
        now_ms, attempts = due, attempts + 1
    assert 23 * 3600_000 < now_ms <= 24 * 3600_000
    assert attempts == 29


def test_the_ladder_scales_with_its_base() -> None:
    schedule = RetrySchedule(base_seconds=0.25, max_age_seconds=6)
    assert [schedule.delay_seconds(n) for n in (1, 2, 3)] == [0.25, 1.5, 6]
    assert schedule.next_attempt_ms(1, created_at_s=100, now_ms=100_000) == 100_250
    assert schedule.next_attempt_ms(3, created_at_s=100, now_ms=102_000) is None


def test_signatures_verify_with_the_sdk_for_every_secret_given() -> None:
    old, new = new_secret(), new_secret()
    body = '{"id":"evt_1","type":"batch.completed","created_at":1,"data":{"id":"b"}}'
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header([new, old], "evt_1", now, body),
    }
    for secret in (old, new):
        OpenAI(api_key="x", webhook_secret=secret).webhooks.verify_signature(body, headers)
