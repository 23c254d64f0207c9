"""Batch input files (streamed to disk) and the direct baseline client."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import orjson

MODEL = "gpt-4o-mini"
ENDPOINT = "/v1/chat/completions"

_TEXT = (
    "the battery lasts two days and the screen is bright but the speaker crackles at high "
    "volume delivery was late support answered quickly refund processed after a week "
    "fabric feels cheap stitching came loose colour matches the photos sizing runs small "
    "setup took five minutes app keeps crashing on login firmware update fixed the bluetooth "
    "drops noise cancelling works well on trains battery drains overnight in standby mode "
    "packaging was damaged but the product was fine instructions are unclear and incomplete "
    "great value for the price would buy again not worth the money returned it the next day"
)
_WORDS = _TEXT.split()
_SYSTEM = (
    "You are a careful annotator. Classify the customer review into exactly one of: "
    "positive, negative, mixed, neutral. Answer with the label, then one short sentence "
    "explaining the decisive phrase."
)


def _corpus(seed: int, size: int = 1 << 20) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choices(_WORDS, k=rng.randint(8, 22))).capitalize() + "."
        parts.append(sentence)
        total += len(sentence) + 1
    return " ".join(parts)


def write_chat_lines(path: Path, n: int, *, pad_to: int = 0, seed: int = 7) -> int:
    """Write `n` chat-completion batch lines to `path`, one at a time (bounded memory).

    Each line is a realistic classification request (system prompt + a review of 20-60
    words). With `pad_to`, the review grows so that every line is exactly `pad_to` bytes
    (newline included). Returns the file size in bytes.
    """
    corpus = _corpus(seed)
    rng = random.Random(seed)
    size = 0
    with path.open("wb", buffering=1 << 20) as out:
        for i in range(n):
            start = rng.randrange(0, len(corpus) // 2)
            review = corpus[start : start + rng.randint(120, 360)]
            line = _line(i, review)
            if pad_to and len(line) + 1 < pad_to:
                review = corpus[start : start + len(review) + (pad_to - len(line) - 1)]
                line = _line(i, review)
            out.write(line)
            out.write(b"\n")
            size += len(line) + 1
    return size


def _line(i: int, review: str) -> bytes:
    return orjson.dumps(
        {
            "custom_id": f"req-{i:07d}",
            "method": "POST",
            "url": ENDPOINT,
            "body": {
                "model": MODEL,
                "messages": [
                    {"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": f"Review #{i}: {review}"},
                ],
                "max_tokens": 32,
                "temperature": 0,
            },
        }
    )


# --- the direct baseline ----------------------------------------------------------------------


async def _direct(
    base_url: str, lines_path: Path, out_path: Path, concurrency: int
) -> dict[str, Any]:
    import aiohttp

    url = base_url.rstrip("/") + "/chat/completions"
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    with lines_path.open("rb") as source, out_path.open("wb", buffering=1 << 20) as out:
        lines = iter(source)
        async with aiohttp.ClientSession(
            connector=connector, headers={"Content-Type": "application/json"}
        ) as session:

            async def sender() -> None:
                for raw in lines:  # one shared iterator: each line is taken by exactly one sender
                    line = orjson.loads(raw)
                    async with session.post(url, data=orjson.dumps(line["body"])) as response:
                        data = await response.read()
                        status = response.status
                    statuses[status] = statuses.get(status, 0) + 1
                    out.write(
                        b'{"custom_id":%s,"response":{"status_code":%d,"body":%s}}\n'
                        % (orjson.dumps(line["custom_id"]), status, data)
                    )

            started = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(concurrency)))
            wall = time.perf_counter() - started
    return {"wall_s": wall, "statuses": statuses}


def run_direct(base_url: str, lines_path: Path, out_path: Path, concurrency: int) -> dict[str, Any]:
    """Send every line's body straight to the upstream with `concurrency` requests in flight
    (aiohttp, uvloop like batchgate) and write each response as a JSONL line."""
    coroutine = _direct(base_url, lines_path, out_path, concurrency)
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
