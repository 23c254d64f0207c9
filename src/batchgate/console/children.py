"""Child processes for the demo: started on free ports, health-checked, always stopped.

Children run in their own session, so a Ctrl-C in the terminal reaches only the demo, which
then stops them in order (SIGTERM, then SIGKILL after a grace period). On Linux they also get a
SIGTERM from the kernel if the demo itself is killed outright (`kill -9`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from batchgate.console.errors import ConsoleError

BATCHGATE = [sys.executable, "-m", "batchgate"]
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


if sys.platform == "linux":
    _libc = ctypes.CDLL(None, use_errno=True)  # resolved before fork: nothing to load in the child
    _PREEXEC = _die_with_parent
else:  # pragma: no cover
    _PREEXEC = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any BATCHGATE_ setting, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATCHGATE_")}
    env.update(settings)
    return env


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _wait_healthy(child: Child, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not child.alive():
            raise ConsoleError(
                f"{child.name} exited with status {child.proc.returncode}; "
                f"its log ({child.log}) ends with:\n{child.tail()}"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConsoleError(f"{child.name} did not become healthy in {START_TIMEOUT_SECONDS:.0f}s")


class Children:
    """Started children, stopped newest first when the block ends, however it ends."""

    def __init__(self) -> None:
        self.started: list[Child] = []

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        while self.started:
            self.started.pop().stop()

    def start(
        self, name: str, args: list[str], env: Mapping[str, str], cwd: Path, log: Path, health: str
    ) -> Child:
        """Run `batchgate <args>`, logging to `log`, and wait until `health` answers 200."""
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                [*BATCHGATE, *args],
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_PREEXEC,
            )
        child = Child(name, proc, log)
        self.started.append(child)
        _wait_healthy(child, health)
        return child

    def check_alive(self) -> None:
        for child in self.started:
            if not child.alive():
                raise ConsoleError(
                    f"{child.name} exited with status {child.proc.returncode}; see {child.log}"
                )
