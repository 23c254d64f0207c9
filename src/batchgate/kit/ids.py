"""Object ids in OpenAI's shapes (`file-…`, `batch_…`), ordered by creation time.

The first 12 hex digits are the creation time in milliseconds, so sorting ids sorts objects by
age: list endpoints page on the id alone ("strictly after this id"), with no extra column.
OpenAI's own recent ids are time-prefixed the same way.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

_lock = threading.Lock()
_last_ms = 0


def _time_ordered_hex() -> str:
    """32 hex digits: 12 of milliseconds (strictly increasing in this process) + 20 random."""
    global _last_ms
    with _lock:
        now_ms = max(int(time.time() * 1000), _last_ms + 1)
        _last_ms = now_ms
    return f"{now_ms:012x}{secrets.token_hex(10)}"


def new_file_id() -> str:
    return f"file-{_time_ordered_hex()}"


def new_batch_id() -> str:
    return f"batch_{_time_ordered_hex()}"


def new_tenant_id() -> str:
    return f"tenant_{_time_ordered_hex()}"


def new_webhook_endpoint_id() -> str:
    return f"we_{_time_ordered_hex()}"


def new_event_id() -> str:
    return f"evt_{_time_ordered_hex()}"


def new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def batch_request_id(batch_id: str, line_no: int) -> str:
    """The `batch_req_…` id of one output line: derived, so finalizing twice gives equal bytes."""
    digest = hashlib.blake2b(f"{batch_id}:{line_no}".encode(), digest_size=16).hexdigest()
    return f"batch_req_{digest}"
