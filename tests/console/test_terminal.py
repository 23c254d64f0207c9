"""On a real terminal (a pseudo-terminal here) `submit --wait` draws a live progress bar; with
FORCE_COLOR but no terminal (a CI log) it still prints plain lines."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from console.helpers import ESCAPE, against, line_count, run, write_jsonl
from support.batches import chat_line
from support.procs import BATCHGATE, base_env
from support.stacks import Stack

sqlite_only = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def run_in_terminal(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run `batchgate ARGS` with stdout and stderr on a pseudo-terminal; (status, output)."""
    controller, terminal = os.openpty()
    proc = subprocess.Popen(
        [*BATCHGATE, *args],
        env=base_env(COLUMNS="120", TERM="xterm-256color"),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
        status = proc.wait(10)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    return status, b"".join(chunks).decode(errors="replace")


@sqlite_only
def test_a_terminal_gets_a_live_progress_bar(stack: Stack, tmp_path: Path) -> None:
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line(f"t{i}") for i in range(20)])

    flags = against(stack, stack.new_key())

    status, output = run_in_terminal(
        ["submit", str(requests), "--wait", "--output", str(tmp_path), *flags]
    )

    assert status == 0, output
    assert ESCAPE in output
    assert "\x1b[?25l" in output  # a live display hides the cursor while it redraws
    assert re.search(r"20/20", output), output
    batch_id = re.findall(r"batch_[0-9a-f]{32}", output)[0]
    assert line_count(tmp_path / f"{batch_id}_output.jsonl") == 20


@sqlite_only
def test_force_color_without_a_terminal_stays_plain(stack: Stack, tmp_path: Path) -> None:
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line("a")])

    flags = against(stack, stack.new_key())

    done = run(
        "submit", str(requests), "--wait", "--output", str(tmp_path), *flags, FORCE_COLOR="1"
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b[2K" not in done.stdout  # no redraws: one plain line per update
    assert re.search(r"completed: 1/1 done", re.sub(r"\x1b\[[0-9;]*m", "", done.stdout))
