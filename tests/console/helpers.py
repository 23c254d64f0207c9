"""Running the `batchgate` client commands as real subprocesses, as a user's shell would."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from support.procs import BATCHGATE, base_env
from support.stacks import Stack

ESCAPE = "\x1b["


def run(
    *args: str, cwd: Path | None = None, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """`batchgate ARGS` with a clean environment (no BATCHGATE_ / OPENAI_ variables)."""
    return subprocess.run(
        [*BATCHGATE, *args],
        env=base_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def against(stack: Stack, key: str) -> list[str]:
    return ["--base-url", stack.base_url, "--api-key", key]


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def one_line(text: str) -> str:
    """The single non-empty line of `text` (fails if there are more)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


class Running:
    """A `batchgate` command running in the background, its stdout read line by line."""

    def __init__(self, *args: str, cwd: Path | None = None, **env: str) -> None:
        self.proc = subprocess.Popen(
            [*BATCHGATE, *args],
            env=base_env(**env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Read stdout until a line matches `pattern`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"exited before {pattern!r}:\n{self.output()}")
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no {pattern!r} in {timeout}s:\n{self.output()}")

    def interrupt(self, timeout: float = 30) -> tuple[int, float]:
        """Ctrl-C; (exit status, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        status = self.proc.wait(timeout)
        return status, time.monotonic() - started

    def output(self) -> str:
        """Everything printed on stdout so far (after the process ended: all of it)."""
        if self.proc.poll() is not None:
            while (line := self.lines.get(timeout=5)) is not None:
                self.seen.append(line)
            self.lines.put(None)
        return "".join(self.seen)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def stop(self) -> None:
        """SIGTERM (the demo then stops its children), SIGKILL if that does not end it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def processes_with_env(name: str, value: str) -> list[psutil.Process]:
    """Live processes whose environment has `name=value` (children a command left behind)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(name) == value and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
