"""Logging set-up: readable lines by default, one JSON object per line when asked.

Engine messages pass `extra={"batch_id": ...}`, which JSON lines carry as a field, so logs can
be filtered by batch. Nothing logs API keys or request bodies.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_CONTEXT_FIELDS = ("batch_id", "worker_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def configure(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # per-request access lines from uvicorn would drown the engine's own messages
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
