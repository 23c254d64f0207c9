"""Output and error file lines, exactly as openai-contract.md §5.

Lines are assembled as bytes around the upstream's body text, which is never re-encoded: what
the model server said is what the client reads.
"""

from __future__ import annotations

import hashlib

import orjson

from batchgate.engine.repository import FinishedLine
from batchgate.kit.ids import batch_request_id
from batchgate.models import LineState

_NOT_RUN = {
    LineState.cancelled: (
        "batch_cancelled",
        "The batch was cancelled before this request executed.",
    ),
    LineState.expired: (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
}


def _request_id(batch_id: str, row: FinishedLine) -> str:
    if row.request_id:
        return row.request_id
    # the upstream sent none: derive one, so finalizing twice writes identical bytes
    return hashlib.blake2b(f"{batch_id}:{row.line_no}:req".encode(), digest_size=16).hexdigest()


def render(batch_id: str, row: FinishedLine) -> tuple[bool, bytes]:
    """(goes to the output file?, the JSONL line with its newline)."""
    head = b'{"id":%s,"custom_id":%s,' % (
        orjson.dumps(batch_request_id(batch_id, row.line_no)),
        orjson.dumps(row.custom_id),
    )
    response = b"null"
    if row.status_code is not None and row.response_body is not None:
        response = b'{"status_code":%d,"request_id":%s,"body":%s}' % (
            row.status_code,
            orjson.dumps(_request_id(batch_id, row)),
            row.response_body.encode(),
        )
    if row.state == LineState.succeeded:
        return True, head + b'"response":' + response + b',"error":null}\n'
    code, message = _NOT_RUN.get(LineState(row.state), (row.error_code, row.error_message))
    error = orjson.dumps(
        {"code": code or "request_failed", "message": message or "The request failed."}
    )
    if row.state in _NOT_RUN:
        response = b"null"
    return False, head + b'"response":' + response + b',"error":' + error + b"}\n"
