"""The rules one batch input line must follow (openai-contract.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

#: what the database columns hold; longer values are line errors, not crashes
MAX_CUSTOM_ID = 512
MAX_MODEL = 256


def shown(value: str, limit: int = 80) -> str:
    """A client-supplied value as quoted in an error message: short enough to list 100 of."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class RequestLine:
    custom_id: str
    model: str


@dataclass(frozen=True, slots=True)
class LineProblem:
    code: str
    message: str
    param: str | None = None


def _missing(name: str) -> LineProblem:
    return LineProblem("missing_required_parameter", f"Missing required parameter: '{name}'.", name)


def check_line(raw: bytes, endpoint: str) -> RequestLine | LineProblem:
    """Check one line against the rules that need nothing but the line and the endpoint."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return LineProblem("invalid_json_line", "This line is not parseable as valid JSON.")
    if not isinstance(data, dict):
        return LineProblem("invalid_json_line", "This line is not a JSON object.")
    custom_id = data.get("custom_id")
    method = data.get("method")
    url = data.get("url")
    body = data.get("body")
    if custom_id is None:
        return _missing("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return LineProblem(
            "invalid_custom_id", "'custom_id' must be a non-empty string.", "custom_id"
        )
    if len(custom_id) > MAX_CUSTOM_ID or "\x00" in custom_id:
        return LineProblem(
            "invalid_custom_id",
            f"'custom_id' must be at most {MAX_CUSTOM_ID} characters, without NUL characters.",
            "custom_id",
        )
    if method is None:
        return _missing("method")
    if method != "POST":
        return LineProblem(
            "invalid_method",
            f"Invalid 'method': {shown(repr(method))}. Only 'POST' is supported.",
            "method",
        )
    if url is None:
        return _missing("url")
    if url != endpoint:
        return LineProblem(
            "url_mismatch",
            f"The url {shown(repr(url))} for this request does not match the batch's endpoint "
            f"{endpoint!r}.",
            "url",
        )
    if body is None:
        return _missing("body")
    checked = _check_body(body)
    if isinstance(checked, LineProblem):
        return checked
    return RequestLine(custom_id=custom_id, model=checked)


def _check_body(body: Any) -> str | LineProblem:
    """The `body` rules; returns its model."""
    if not isinstance(body, dict):
        return LineProblem("invalid_body", "'body' must be a JSON object.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return LineProblem(
            "missing_required_parameter", "Missing required parameter: 'body.model'.", "body.model"
        )
    if len(model) > MAX_MODEL or "\x00" in model:
        return LineProblem(
            "invalid_model",
            f"'body.model' must be at most {MAX_MODEL} characters, without NUL characters.",
            "body.model",
        )
    if body.get("stream") is True:
        return LineProblem(
            "streaming_unsupported",
            "Streaming ('stream': true) is not supported in a batch.",
            "body.stream",
        )
    return model


def request_body(raw: bytes, model: str) -> bytes:
    """The body to send upstream: the line's `body`, with the routed model name."""
    body = orjson.loads(raw)["body"]
    if body.get("model") != model:
        body["model"] = model
    return orjson.dumps(body)
