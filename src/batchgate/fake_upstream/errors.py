"""OpenAI-style error envelopes for the fake upstream.

Clients (the batch gateway, the ``openai`` SDK) classify failures by status code and by the
``type``/``code`` fields of the envelope, so each injected status gets the envelope the real API
sends for it.
"""

from __future__ import annotations

import math
from typing import Any, Final

import orjson

#: Retry hint sent with a 429 when nothing more specific was asked for. Kept short so that tests
#: and demos that honour it do not stall; ``retry-after`` (whole seconds) still rounds up to 1.
DEFAULT_RETRY_AFTER_S: Final = 0.1

# status -> (type, code, message); statuses not listed fall back by class (4xx / 5xx).
_CANNED: Final[dict[int, tuple[str, str | None, str]]] = {
    400: (
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 128000 tokens. However, your messages resulted "
        "in 131072 tokens. Please reduce the length of the messages.",
    ),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-fake. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported.",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    429: (
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. "
        "Please try again shortly.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "The server did not respond in time."),
}


def envelope(message: str, type_: str, param: str | None = None, code: str | None = None) -> bytes:
    """Serialise an OpenAI error envelope ``{"error": {...}}``."""
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


def canned_envelope(status: int) -> bytes:
    """Return the realistic error body the real API sends with ``status``."""
    canned = _CANNED.get(status)
    if canned is None:
        if status >= 500:
            canned = ("server_error", None, f"Upstream error (status {status}).")
        else:
            canned = ("invalid_request_error", None, f"Request failed (status {status}).")
    type_, code, message = canned
    return envelope(message, type_, None, code)


def retry_headers(seconds: float) -> dict[str, str]:
    """Both retry hints: ``retry-after-ms`` for precise clients, ``retry-after`` per RFC 9110."""
    return {
        "retry-after": str(math.ceil(seconds)),
        "retry-after-ms": str(round(seconds * 1000)),
    }


class BadRequest(Exception):
    """Raised by payload builders for a request the real API would reject with a 400."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> bytes:
        """The 400 envelope for this error."""
        return envelope(self.message, "invalid_request_error", self.param, self.code)


def missing(param: str) -> BadRequest:
    """The error the real API gives for an absent required parameter."""
    return BadRequest(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def invalid_type(param: str, expected: str, value: Any) -> BadRequest:
    """The error the real API gives for a parameter of the wrong type."""
    return BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got {type(value).__name__}.",
        param,
        "invalid_type",
    )
