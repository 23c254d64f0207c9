"""`batchgate demo`: a fake model and a server as children, one batch, results, clean exit."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from openai import OpenAI

from console.helpers import Running, line_count, processes_with_env, run

MARK = "DEMO_TEST_MARK"  # not BATCHGATE_: the demo passes it on to its children


def no_children_left(mark: str) -> None:
    """Every process that inherited `mark` has gone (stopped children exit within seconds)."""
    deadline = time.monotonic() + 5
    while (left := processes_with_env(MARK, mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [proc.cmdline() for proc in left]


def test_demo_runs_to_completion(tmp_path: Path) -> None:
    mark = secrets.token_hex(8)

    done = run("demo", "--lines", "40", cwd=tmp_path, timeout=90, **{MARK: mark})

    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "batchgate-demo"
    assert "batchgate-demo/" in done.stdout
    assert "sample replies" in done.stdout
    assert "request-001 → echo: Summarise the plot of Hamlet" in done.stdout
    assert "an error line" in done.stdout
    assert "HTTP 400 context_length_exceeded" in done.stdout
    assert "40 total, 38 completed, 2 failed" in done.stdout
    assert line_count(out / "requests.jsonl") == 40
    [output] = out.glob("batch_*_output.jsonl")
    [errors] = out.glob("batch_*_errors.jsonl")
    assert (line_count(output), line_count(errors)) == (38, 2)
    assert "Traceback" not in done.stderr
    no_children_left(mark)


def test_ctrl_c_stops_the_demo_and_its_children(tmp_path: Path) -> None:
    mark = secrets.token_hex(8)
    demo = Running("demo", "--lines", "2000", cwd=tmp_path, **{MARK: mark})
    try:
        demo.wait_for_line(r"in_progress: \d+/2000 done")
        assert len(processes_with_env(MARK, mark)) >= 3  # the demo, the fake model, the server
        status, took = demo.interrupt()
    finally:
        demo.stop()

    assert status == 130
    assert "demo interrupted" in demo.output()
    assert took < 20
    no_children_left(mark)


def test_keep_running_serves_until_ctrl_c(tmp_path: Path) -> None:
    mark = secrets.token_hex(8)
    demo = Running("demo", "--lines", "8", "--keep-running", cwd=tmp_path, **{MARK: mark})
    try:
        found = demo.wait_for_line(r"export OPENAI_BASE_URL=(\S+) OPENAI_API_KEY=(\S+)")
        demo.wait_for_line("Press Ctrl-C")
        client = OpenAI(base_url=found.group(1), api_key=found.group(2), max_retries=0)
        [batch] = client.batches.list().data
        assert batch.status == "completed"
        status, _ = demo.interrupt()
    finally:
        demo.stop()

    assert status == 0
    assert "stopping the server" in demo.output()
    no_children_left(mark)
