"""When a failed delivery is tried again: a fixed, growing ladder scaled by one base delay.

With the default base of 5 s: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every hour, until
`max_age_seconds` after the event, when the delivery is given up.
"""

from __future__ import annotations

from dataclasses import dataclass

#: multiples of the base delay after the 1st, 2nd, … failed attempt; the last one repeats
LADDER = (1, 6, 24, 120, 360, 720)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    base_seconds: float = 5.0
    max_age_seconds: float = 86400.0

    def delay_seconds(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt (1-based)."""
        step = LADDER[min(max(attempts, 1), len(LADDER)) - 1]
        return step * self.base_seconds

    def next_attempt_ms(self, attempts: int, created_at_s: int, now_ms: int) -> int | None:
        """When to try again, or None when that would be past the delivery's maximum age."""
        due = now_ms + int(self.delay_seconds(attempts) * 1000)
        if due > (created_at_s + self.max_age_seconds) * 1000:
            return None
        return due
