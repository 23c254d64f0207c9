from __future__ import annotations

from collections.abc import Callable

import pytest

from batchgate.errors import ConfigurationError
from batchgate.upstream import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base_seconds=1.0, max_seconds=60.0)


def always(value: float) -> Callable[[], float]:
    return lambda: value


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert POLICY.is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 201, 301, 400, 401, 403, 404, 413, 422, 499])
def test_final_statuses(status: int) -> None:
    assert not POLICY.is_retryable_status(status)


def test_should_retry_counts_total_sends() -> None:
    assert [POLICY.should_retry(n) for n in range(1, 7)] == [True] * 4 + [False] * 2
    assert not RetryPolicy(max_attempts=1).should_retry(1)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (50, 60.0), (10_000, 60.0)],
)
def test_full_jitter_ceiling_doubles_then_caps(attempt: int, ceiling: float) -> None:
    assert POLICY.delay_seconds(attempt, None, rand=always(1.0)) == ceiling
    assert POLICY.delay_seconds(attempt, None, rand=always(0.5)) == ceiling / 2
    assert POLICY.delay_seconds(attempt, None, rand=always(0.0)) == 0.0


def test_attempt_below_one_is_treated_as_the_first() -> None:
    assert POLICY.delay_seconds(0, None, rand=always(1.0)) == 1.0


def test_default_rand_stays_within_bounds() -> None:
    delays = [POLICY.delay_seconds(3, None) for _ in range(200)]
    assert all(0.0 <= delay <= 4.0 for delay in delays)
    assert len(set(delays)) > 1  # really jittered


def test_retry_after_is_a_floor() -> None:
    # The server asks for 10 s; jitter drew less, so the hint wins.
    assert POLICY.delay_seconds(1, 10.0, rand=always(0.5)) == 10.0
    # Jitter drew more than the hint: the backoff wins.
    assert POLICY.delay_seconds(7, 10.0, rand=always(0.5)) == 30.0


def test_zero_or_negative_retry_after_falls_back_to_backoff() -> None:
    assert POLICY.delay_seconds(2, 0.0, rand=always(0.25)) == 0.5
    assert POLICY.delay_seconds(2, -5.0, rand=always(0.25)) == 0.5


def test_long_retry_after_is_clamped() -> None:
    policy = RetryPolicy(max_retry_after_seconds=120.0)
    assert policy.delay_seconds(1, 86_400.0, rand=always(0.0)) == 120.0
    assert policy.delay_seconds(1, float("inf"), rand=always(0.0)) == 120.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_seconds": -1.0},
        {"max_seconds": float("nan")},
        {"max_retry_after_seconds": -0.5},
    ],
)
def test_invalid_policy_is_a_configuration_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
