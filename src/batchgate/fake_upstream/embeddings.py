"""``POST /v1/embeddings`` for the fake upstream: deterministic unit vectors from a hash."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Callable
from typing import Any, Final

import orjson

from batchgate.fake_upstream.errors import BadRequest
from batchgate.fake_upstream.text import bounded_int, count_tokens, inputs

DEFAULT_DIMENSIONS: Final = 8
MAX_DIMENSIONS: Final = 8192

_UINT32_SCALE: Final = 2.0 / 2**32


def embedding_vector(item: str | list[int], dims: int) -> list[float]:
    """Deterministic unit vector for an input, from an extendable-output hash of it."""
    data = item.encode() if isinstance(item, str) else orjson.dumps(item)
    raw = hashlib.shake_128(data).digest(4 * dims)
    values = [x * _UINT32_SCALE - 1.0 for x in struct.unpack(f"<{dims}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings(body: dict[str, Any], model: str, new_id: Callable[[], str]) -> dict[str, Any]:
    """``POST /v1/embeddings``; supports ``encoding_format: base64`` (the SDK's default)."""
    items = inputs(body.get("input"), "input")
    dims = bounded_int(body, "dimensions", DEFAULT_DIMENSIONS, 1, MAX_DIMENSIONS)
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise BadRequest(
            f"Invalid value for 'encoding_format': {fmt!r}. Expected 'float' or 'base64'.",
            "encoding_format",
            "invalid_value",
        )
    data: list[dict[str, Any]] = []
    prompt_tokens = 0
    for i, item in enumerate(items):
        prompt_tokens += count_tokens(item)
        vector = embedding_vector(item, dims)
        encoded: list[float] | str = vector
        if fmt == "base64":
            # OpenAI's base64 format is little-endian float32.
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
