"""Ctrl-C during `submit --wait` stops the waiting, never the batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.helpers import Running, against, write_jsonl
from support.batches import chat_line, wait_for
from support.stacks import Stack


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_ctrl_c_stops_waiting_and_leaves_the_batch_running(stack: Stack, tmp_path: Path) -> None:
    # ~3 s of work at the stack's concurrency (64 in flight, 500 ms each)
    lines = [chat_line(f"slow-{i}", {"latency_ms": 500}) for i in range(400)]
    requests = write_jsonl(tmp_path / "slow.jsonl", lines)
    key = stack.new_key()
    waiting = Running(
        "submit", str(requests), "--wait", "--output", str(tmp_path), *against(stack, key)
    )
    try:
        batch_id = waiting.wait_for_line(r"created batch (batch_\w+)").group(1)
        waiting.wait_for_line(r"in_progress: \d+/400 done")  # the progress display is up
        status, took = waiting.interrupt()
    finally:
        waiting.stop()

    assert status == 130
    assert took < 5, f"took {took:.1f}s to stop waiting"
    hint = waiting.stderr()
    assert f"batchgate batches watch {batch_id} --output {tmp_path}" in hint
    assert "Traceback" not in hint
    assert not list(tmp_path.glob("batch_*.jsonl"))  # nothing downloaded: it was not finished

    client = stack.client(key)
    assert client.batches.retrieve(batch_id).status in ("in_progress", "finalizing", "completed")
    finished = wait_for(client, batch_id)
    assert finished.status == "completed"
    assert finished.request_counts is not None
    assert finished.request_counts.completed == 400
