"""The rules one batch input line must follow (openai-contract.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


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
    custom_id, method, url, body = (data.get(k) for k in ("custom_id", "method", "url", "body"))
    if custom_id is None:
        return _missing("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return LineProblem(
            "invalid_custom_id", "'custom_id' must be a non-empty string.", "custom_id"
        )
    if method is None:
        return _missing("method")
    if method != "POST":
        return LineProblem(
            "invalid_method", f"Invalid 'method': {method!r}. Only 'POST' is supported.", "method"
        )
    if url is None:
        return _missing("url")
    if url != endpoint:
        return LineProblem(
            "url_mismatch",
            f"The url {url!r} for this request does not match the batch's endpoint {endpoint!r}.",
            "url",
        )
    if body is None:
        return _missing("body")
    if not isinstance(body, dict):
        return LineProblem("invalid_body", "'body' must be a JSON object.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return LineProblem(
            "missing_required_parameter", "Missing required parameter: 'body.model'.", "body.model"
        )
    if body.get("stream") is True:
        return LineProblem(
            "streaming_unsupported",
            "Streaming ('stream': true) is not supported in a batch.",
            "body.stream",
        )
    return RequestLine(custom_id=custom_id, model=model)


def request_body(raw: bytes, model: str) -> bytes:
    """The body to send upstream: the line's `body`, with the routed model name."""
    body = orjson.loads(raw)["body"]
    if body.get("model") != model:
        body["model"] = model
    return orjson.dumps(body)
