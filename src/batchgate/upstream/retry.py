"""When to resend a failed upstream request, and how long to wait first.

Backoff is "full jitter" (a uniform draw from zero up to an exponential ceiling), which spreads a
burst of failures from thousands of batch lines instead of having them retry in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from batchgate.errors import ConfigurationError

# 408 timeout, 409 conflict (OpenAI's lock contention), 429 rate limit: the same set the OpenAI
# SDK retries. Every 5xx is retried too.
_RETRYABLE_4XX = frozenset({408, 409, 429})
# 2.0**1024 overflows a float; 2**1000 already exceeds any sensible max_seconds.
_MAX_EXPONENT = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """How many sends a request gets and the delays between them.

    `delay_seconds` honours a server's retry hint as a floor: the wait is the larger of the
    hint (clamped to `max_retry_after_seconds`) and the jittered backoff, so a server asking for
    10 s gets at least 10 s, and a server asking for 0 s cannot make a fleet retry in lockstep.
    """

    max_attempts: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 60.0
    max_retry_after_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, not {self.max_attempts}")
        for name in ("base_seconds", "max_seconds", "max_retry_after_seconds"):
            if not getattr(self, name) >= 0:  # also rejects NaN
                raise ConfigurationError(f"{name} must be >= 0, not {getattr(self, name)}")

    def is_retryable_status(self, status: int) -> bool:
        """True for 408, 409, 429 and every 5xx: statuses where sending again may succeed."""
        return status >= 500 or status in _RETRYABLE_4XX

    def should_retry(self, attempts_so_far: int) -> bool:
        """True while another send is allowed (`attempts_so_far` counts the sends made)."""
        return attempts_so_far < self.max_attempts

    def delay_seconds(
        self,
        attempt: int,
        retry_after_seconds: float | None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before the next send, after `attempt` sends (1 after the first).

        Full jitter: `rand() * min(max_seconds, base_seconds * 2 ** (attempt - 1))`, then raised
        to the server's `retry_after_seconds` (clamped to `max_retry_after_seconds`) if given.
        """
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        delay = rand() * min(self.max_seconds, self.base_seconds * 2.0**exponent)
        if retry_after_seconds is not None and retry_after_seconds > 0:
            delay = max(delay, min(retry_after_seconds, self.max_retry_after_seconds))
        return delay
