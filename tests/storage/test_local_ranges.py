"""Reading claimed lines back from local storage: merged spans must give exactly the bytes of
each range, whatever the order, gaps or overlaps of the ranges asked for."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from batchgate.storage.local import LocalStorage

KEY = "files/input.jsonl"


async def stored(tmp_path: Path, data: bytes) -> LocalStorage:
    storage = LocalStorage(tmp_path)
    async with storage.open_writer(KEY) as writer:
        await writer.write(data)
    return storage


def lines_of(count: int, size: int) -> tuple[bytes, list[tuple[int, int]]]:
    data, ranges = bytearray(), []
    for i in range(count):
        line = (f'{{"n": {i}, "pad": "' + "x" * (size + i % 13) + '"}').encode()
        ranges.append((len(data), len(line)))
        data += line + b"\n"
    return bytes(data), ranges


@pytest.mark.parametrize("size", [40, 4_000])  # under and over the inline-read threshold
async def test_consecutive_scattered_and_shuffled_ranges(tmp_path: Path, size: int) -> None:
    data, ranges = lines_of(300, size)
    storage = await stored(tmp_path, data)
    rng = random.Random(7)
    picks = [
        ranges[:128],  # one claim of consecutive lines
        ranges[::37],  # retried lines, far apart
        rng.sample(ranges, 50),  # any order
        [ranges[5], ranges[5], ranges[4]],  # repeats and a step back
    ]
    for wanted in picks:
        got = await storage.read_ranges(KEY, wanted)
        assert got == [data[offset : offset + length] for offset, length in wanted]


async def test_a_range_past_the_end_is_an_error(tmp_path: Path) -> None:
    data, ranges = lines_of(10, 40)
    storage = await stored(tmp_path, data)
    with pytest.raises(OSError, match="truncated"):
        await storage.read_ranges(KEY, [*ranges, (len(data) - 5, 50)])
