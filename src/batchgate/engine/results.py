"""Turning an upstream answer (or failure) into what is written on the line row.

Three outcomes: succeeded (2xx), retry later (429/408/5xx/timeouts, attempts and deadline
permitting — the wait is recorded on the row, no worker sleeps on a slot), or failed for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from batchgate.models import LineState
from batchgate.upstream import RetryPolicy, UpstreamResponse, UpstreamTimeout

#: the counters on `batches` that a line result moves
USAGE_FIELDS = (
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
)


def _fit(text: str | None, limit: int) -> str | None:
    """Make an upstream-supplied string storable: no NUL (PostgreSQL text rejects it), and no
    longer than its column. One odd answer must never make a whole flush fail."""
    if text is None:
        return None
    return text.replace("\x00", "")[:limit]


@dataclass(slots=True)
class Outcome:
    line_id: int
    token: int
    batch_id: str
    values: dict[str, Any]
    deltas: dict[str, int]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_deltas(body: Any) -> dict[str, int]:
    """Token usage from chat/completions (`prompt_tokens`…), responses (`input_tokens`…) and
    embeddings (`prompt_tokens`, `total_tokens`) bodies, in the Batch object's terms."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return {}
    input_details = usage.get("input_tokens_details") or usage.get("prompt_tokens_details") or {}
    output_details = (
        usage.get("output_tokens_details") or usage.get("completion_tokens_details") or {}
    )
    input_tokens = _int(usage.get("input_tokens", usage.get("prompt_tokens")))
    output_tokens = _int(usage.get("output_tokens", usage.get("completion_tokens")))
    deltas = {
        "input_tokens": input_tokens,
        "cached_tokens": _int(input_details.get("cached_tokens"))
        if isinstance(input_details, dict)
        else 0,
        "output_tokens": output_tokens,
        "reasoning_tokens": _int(output_details.get("reasoning_tokens"))
        if isinstance(output_details, dict)
        else 0,
        "total_tokens": _int(usage.get("total_tokens")) or input_tokens + output_tokens,
    }
    return {name: value for name, value in deltas.items() if value}


def _error_fields(status: int, body: Any, raw: bytes) -> tuple[str, str]:
    """`error.code` / `error.message` for an HTTP error, from the upstream's own envelope."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type") or f"http_{status}"
        message = error.get("message") or f"The upstream answered HTTP {status}."
        return str(code), str(message)
    if isinstance(error, str):
        return f"http_{status}", error
    text = raw[:500].decode("utf-8", "replace").strip()
    return f"http_{status}", text or f"The upstream answered HTTP {status}."


def _as_json_object(raw: bytes) -> tuple[dict[str, Any], str, bool]:
    """(parsed, JSON text to store, whether the upstream sent an object). A body that is not a
    JSON object is wrapped in an error envelope, so `response.body` is always an object."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed, raw.decode("utf-8"), True
    text = raw[:2000].decode("utf-8", "replace")
    wrapped = {"error": {"message": text, "type": "upstream_error", "param": None, "code": None}}
    return wrapped, orjson.dumps(wrapped).decode(), False


class Classifier:
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def _retry_at(
        self, attempts: int, retry_after: float | None, now_ms: int, deadline_ms: int
    ) -> int | None:
        if not self.policy.should_retry(attempts):
            return None
        at = now_ms + int(self.policy.delay_seconds(attempts, retry_after) * 1000)
        return at if at < deadline_ms else None

    def response(
        self, response: UpstreamResponse, attempts: int, now_ms: int, deadline_ms: int
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """(column values, counter deltas) for an HTTP answer."""
        body, text, is_object = _as_json_object(response.body)
        base = {
            "status_code": response.status,
            "request_id": _fit(response.request_id, 128),
            "response_body": text,
        }
        if 200 <= response.status < 300 and is_object:
            return (
                {**base, "state": LineState.succeeded, "error_code": None, "error_message": None},
                {"completed": 1, **usage_deltas(body)},
            )
        if 200 <= response.status < 300:
            code, message = (
                "invalid_upstream_response",
                "The upstream's answer is not a JSON object.",
            )
        else:
            code, message = _error_fields(response.status, body, response.body)
        failure = {**base, "error_code": _fit(code, 64), "error_message": _fit(message, 4000)}
        if self.policy.is_retryable_status(response.status):
            retry_at = self._retry_at(attempts, response.retry_after_seconds, now_ms, deadline_ms)
            if retry_at is not None:
                return {**failure, "state": LineState.pending, "next_attempt_at_ms": retry_at}, {}
        return {**failure, "state": LineState.failed}, {"failed": 1}

    def exception(
        self, error: Exception, attempts: int, now_ms: int, deadline_ms: int
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """(column values, counter deltas) for a timeout or a connection failure."""
        if isinstance(error, UpstreamTimeout):
            code, message = "request_timeout", "The underlying call to the model timed out."
        else:
            # the error's text names the upstream's address: logs may see it, tenants may not
            code, message = "upstream_unavailable", "The upstream could not be reached."
        failure = {
            "status_code": None,
            "request_id": None,
            "response_body": None,
            "error_code": code,
            "error_message": message,
        }
        retry_at = self._retry_at(attempts, None, now_ms, deadline_ms)
        if retry_at is not None:
            return {**failure, "state": LineState.pending, "next_attempt_at_ms": retry_at}, {}
        return {**failure, "state": LineState.failed}, {"failed": 1}
