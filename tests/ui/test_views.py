"""The dashboard's pure helpers: times, progress, and reading only the head of an error file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from batchgate.ui import service, views


def test_times_read_well() -> None:
    assert views.utc(0) == "1970-01-01 00:00:00 UTC"
    assert views.utc(None) == "—"
    assert views.ago(1000, 1002) == "just now"
    assert views.ago(1000, 1000 + 3 * 60 + 5) == "3 min ago"
    assert views.ago(1000 + 86400 - 60, 1000) == "in 23 h 59 min"
    assert views.ago(0, 2 * 86400 + 3600) == "2 d 1 h ago"
    assert views.duration(10, 52) == "42 s"


def test_progress_splits_completed_and_failed() -> None:
    progress = views.Progress(total=8, completed=4, failed=2)
    assert (progress.done, progress.ok_pct, progress.failed_pct, progress.percent) == (
        6,
        50.0,
        25.0,
        75,
    )
    assert views.Progress(total=0, completed=0, failed=0).ok_pct == 0.0


def test_metadata_summary_is_clipped() -> None:
    assert views.metadata_summary({"a": "1", "b": "2"}) == "a=1, b=2"
    assert views.metadata_summary({"k": "x" * 100}, limit=10) == "k=xxxxxxx…"
    assert views.metadata_summary(None) == ""


def _error_line(i: int) -> bytes:
    line = {
        "id": f"batch_req_{i}",
        "custom_id": f"c{i}",
        "response": {"status_code": 400, "request_id": "r", "body": {"x": "y" * 50}},
        "error": {"code": "bad", "message": f"no {i}"},
    }
    return orjson.dumps(line) + b"\n"


class Chunks:
    """A file of 1000 error lines, in small chunks, that records how far it was read."""

    def __init__(self) -> None:
        self.read = 0
        self.closed = False

    async def stream(self) -> AsyncIterator[bytes]:
        try:
            data = b"".join(_error_line(i) for i in range(1000))
            for start in range(0, len(data), 512):
                self.read += 1
                yield data[start : start + 512]
        finally:
            self.closed = True


async def test_error_preview_reads_only_the_beginning() -> None:
    chunks = Chunks()
    head, more = await service._head(chunks.stream(), max_lines=20, max_bytes=1 << 20)
    lines = [service._error_line(raw) for raw in head.splitlines()]
    assert [line.custom_id for line in lines] == [f"c{i}" for i in range(20)]
    assert (lines[0].status_code, lines[0].code, lines[0].message) == (400, "bad", "no 0")
    assert more
    assert chunks.closed
    assert chunks.read < 20  # the file is ~400 chunks long


async def test_error_preview_respects_the_byte_budget() -> None:
    head, more = await service._head(Chunks().stream(), max_lines=20, max_bytes=1000)
    assert more
    assert 0 < len(head.splitlines()) < 20
    odd = service._error_line(b'{"custom_id": 7, "response": null, "error": "x"}')
    assert (odd.custom_id, odd.status_code, odd.code) == ("7", None, "")
    assert service._error_line(b"not json").code == "unreadable"
