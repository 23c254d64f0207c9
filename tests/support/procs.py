"""Real processes for tests: `batchgate serve`, `batchgate worker`, the fake upstream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

BATCHGATE = [sys.executable, "-m", "batchgate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout}s:\n{log.read_text()[-3000:]}")


class Process:
    """A child process whose output goes to a log file (shown when a test fails)."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, dict(env), log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )
        handle.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash or an OOM kill."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, then wait (graceful drain)."""
        if not self.alive():
            return None if self.proc is None else self.proc.returncode
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def base_env(**extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHGATE_", "OPENAI_"))}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


class FakeUpstream(Process):
    def __init__(self, workdir: Path, latency_ms: float = 0.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        super().__init__(
            [
                *BATCHGATE,
                "fake-upstream",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
            ],
            base_env(),
            workdir / f"fake-upstream-{self.port}.log",
        )

    def start(self) -> None:
        super().start()
        assert self.proc is not None
        wait_for_http(f"http://127.0.0.1:{self.port}/_fake/stats", self.proc, self.log)

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"http://127.0.0.1:{self.port}/_fake/stats").json()
        return data

    def reset(self) -> None:
        httpx.post(f"http://127.0.0.1:{self.port}/_fake/reset")


class Server(Process):
    """`batchgate serve` on a free port, with the given environment."""

    def __init__(self, workdir: Path, env: Mapping[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        super().__init__(
            [*BATCHGATE, "serve", "--port", str(self.port)], env, workdir / f"serve-{self.port}.log"
        )

    def start(self) -> None:
        super().start()
        assert self.proc is not None
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", self.proc, self.log)


class Worker(Process):
    def __init__(self, workdir: Path, env: Mapping[str, str], name: str) -> None:
        super().__init__([*BATCHGATE, "worker"], env, workdir / f"worker-{name}.log")
