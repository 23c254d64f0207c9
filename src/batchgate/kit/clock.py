"""Time as the API speaks it: integer unix seconds (objects) and milliseconds (scheduling)."""

from __future__ import annotations

import time


def now_s() -> int:
    return int(time.time())


def now_ms() -> int:
    return int(time.time() * 1000)
