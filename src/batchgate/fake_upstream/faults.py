"""Per-request fault directives (the ``x_fake`` body key) and request accounting.

The batch gateway forwards request bodies untouched, so a test controls the upstream's behaviour
for one batch line by putting an ``x_fake`` object in that line's body. See the package docstring
for the directive fields and their semantics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from batchgate.fake_upstream.errors import BadRequest, invalid_type

#: ``fail_times`` / ``hang_times`` value meaning "every attempt".
ALWAYS = -1


@dataclass(frozen=True, slots=True)
class Directive:
    """A parsed ``x_fake`` object."""

    key: str | None = None
    fail_times: int = 0
    status: int = 500
    retry_after: float | None = None
    hang_s: float | None = None
    hang_times: int = ALWAYS
    latency_ms: float | None = None

    def fails(self, attempt: int) -> bool:
        """Whether the ``attempt``-th request (1-based) with this key gets ``status``."""
        return self.fail_times == ALWAYS or attempt <= self.fail_times

    def hangs(self, attempt: int) -> bool:
        """Whether the ``attempt``-th request (1-based) with this key sleeps ``hang_s`` first."""
        return self.hang_s is not None and (self.hang_times == ALWAYS or attempt <= self.hang_times)


def _int(raw: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = raw.get(name, default)
    # bool is an int subclass; accepting True as 1 would hide typos in tests.
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_type(f"x_fake.{name}", "an integer", value)
    if not lo <= value <= hi:
        raise BadRequest(f"x_fake.{name} must be in [{lo}, {hi}], got {value}.", f"x_fake.{name}")
    return value


def _seconds(raw: dict[str, Any], name: str) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise invalid_type(f"x_fake.{name}", "a number", value)
    if value < 0:
        raise BadRequest(f"x_fake.{name} must be >= 0, got {value}.", f"x_fake.{name}")
    return float(value)


def parse_directive(raw: Any) -> Directive:
    """Validate an ``x_fake`` object; malformed directives are a 400 so test typos surface."""
    if not isinstance(raw, dict):
        raise invalid_type("x_fake", "an object", raw)
    key = raw.get("key")
    if key is not None and not isinstance(key, str):
        raise invalid_type("x_fake.key", "a string", key)
    return Directive(
        key=key,
        fail_times=_int(raw, "fail_times", 0, ALWAYS, 1 << 30),
        status=_int(raw, "status", 500, 400, 599),
        retry_after=_seconds(raw, "retry_after"),
        hang_s=_seconds(raw, "hang_s"),
        hang_times=_int(raw, "hang_times", ALWAYS, ALWAYS, 1 << 30),
        latency_ms=_seconds(raw, "latency_ms"),
    )


def request_key(body: dict[str, Any], raw_body: bytes, directive: Directive | None) -> str | None:
    """Identity used to count attempts of "the same" request.

    ``x_fake.key`` wins, then the OpenAI ``user`` field. Only requests carrying a directive fall
    back to hashing the body: plain benchmark traffic stays unkeyed so ``by_key`` does not grow
    without bound and no hashing is paid for.
    """
    if directive is not None and directive.key is not None:
        return directive.key
    user = body.get("user")
    if isinstance(user, str):
        return user
    if directive is not None:
        return hashlib.sha1(raw_body, usedforsecurity=False).hexdigest()
    return None


@dataclass(slots=True)
class Stats:
    """Counters exposed at ``GET /_fake/stats``.

    ``by_key`` doubles as the attempt counter that ``fail_times``/``hang_times`` are compared to.
    """

    total: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    by_status: dict[int, int] = field(default_factory=dict)

    def attempt(self, key: str) -> int:
        """Count one more request for ``key`` and return its 1-based attempt number."""
        n = self.by_key.get(key, 0) + 1
        self.by_key[key] = n
        return n

    def reset(self) -> None:
        """Forget everything except requests that are still being served."""
        self.total = 0
        self.max_in_flight = self.in_flight
        self.by_key.clear()
        self.by_status.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready view; status codes become strings because JSON keys must be."""
        return {
            "total": self.total,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_key": dict(self.by_key),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
        }
