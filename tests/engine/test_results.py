"""Whatever an upstream answers, what is written on the line row fits its columns."""

from __future__ import annotations

import orjson

from batchgate.engine.results import Classifier
from batchgate.models import LineState
from batchgate.upstream import RetryPolicy, UpstreamConnectionError, UpstreamResponse

NOW, DEADLINE = 1_000_000, 2_000_000


def test_oversized_request_id_and_error_code_are_clipped_and_nul_dropped() -> None:
    body = orjson.dumps({"error": {"code": "c" * 500, "message": "bad\u0000thing", "type": "x"}})
    response = UpstreamResponse(400, body, "r" * 300, None)
    values, deltas = Classifier(RetryPolicy()).response(response, 1, NOW, DEADLINE)
    assert values["state"] == LineState.failed
    assert deltas == {"failed": 1}
    assert len(values["request_id"]) == 128
    assert len(values["error_code"]) == 64
    assert values["error_message"] == "badthing"


def test_connection_errors_do_not_tell_tenants_the_upstream_address() -> None:
    error = UpstreamConnectionError(
        "upstream 'vllm' (http://10.1.2.3:8000/v1?token=s3cret): refused"
    )
    values, _ = Classifier(RetryPolicy(max_attempts=1)).exception(error, 1, NOW, DEADLINE)
    assert values["error_code"] == "upstream_unavailable"
    assert "10.1.2.3" not in values["error_message"]
    assert "s3cret" not in values["error_message"]
