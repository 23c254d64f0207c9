"""Processes and services for the benchmark (self-contained: nothing from tests/).

- `Proc`: a child process in its own session (a terminal Ctrl-C reaches only the benchmark,
  which then stops its children itself), killed by the kernel if the benchmark dies
  (PR_SET_PDEATHSIG), with output in a log file.
- `Cleanup`: a LIFO stack of undo actions run on exit, failure, Ctrl-C or SIGTERM.
- `postgres_database` / `redis_database`: a throwaway PostgreSQL database and a flushed,
  otherwise unused Redis database index.

Measurement (RSS and CPU sampling) is in `sampler.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

BATCHGATE = [sys.executable, "-m", "batchgate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(**extra: object) -> dict[str, str]:
    """The environment minus any BATCHGATE_*/OPENAI_* the caller has set, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHGATE_", "OPENAI_"))}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


try:  # loaded here, not in the forked child (dlopen after fork is not safe with threads)
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - not glibc Linux
    _LIBC = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM us if the benchmark dies


class Cleanup:
    """Undo actions, run last-in first-out exactly once (each failure is reported, not raised)."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], object]]] = []
        self._lock = threading.Lock()

    def push(self, what: str, action: Callable[[], object]) -> None:
        with self._lock:
            self._actions.append((what, action))

    def mark(self) -> int:
        with self._lock:
            return len(self._actions)

    def run(self, down_to: int = 0) -> None:
        """Undo everything pushed since `mark()` returned `down_to` (default: everything)."""
        while True:
            with self._lock:
                if len(self._actions) <= down_to:
                    return
                what, action = self._actions.pop()
            try:
                action()
            except BaseException as exc:  # keep going: every other resource still needs undoing
                print(f"bench: cleanup of {what} failed: {exc!r}", file=sys.stderr)


CLEANUP = Cleanup()


def install_signal_handlers() -> None:
    """SIGINT (even if inherited as ignored), SIGTERM and SIGHUP unwind like Ctrl-C: the
    cleanup runs and the benchmark exits non-zero."""
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise)


class Proc:
    """A child process with its output in `log`; `stop()` is SIGTERM then SIGKILL."""

    def __init__(
        self, name: str, args: list[str], env: Mapping[str, str], log: Path, cwd: Path
    ) -> None:
        self.name, self.args, self.env, self.log, self.cwd = name, args, dict(env), log, cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as handle:
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=self.cwd,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if _LIBC is not None else None,
            )
        CLEANUP.push(f"process {self.name}", self.stop)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 35.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def check_alive(self) -> None:
        if not self.alive():
            assert self.popen is not None
            raise RuntimeError(
                f"{self.name} exited with {self.popen.returncode}; log tail:\n{self.tail()}"
            )

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: {url} not up after {timeout}s:\n{self.tail()}")

    def wait_log(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.log.exists() and needle in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name}: no {needle!r} in its log after {timeout}s:\n{self.tail()}"
        )


# --- services ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    redis_url: str = "redis://127.0.0.1:6379"


def _pg_admin(services: Services, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(
            host=services.pg_host,
            port=services.pg_port,
            user=services.pg_user,
            database="postgres",
            timeout=5,
        )
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def postgres_database(services: Services) -> str:
    """A fresh, uniquely named database; CLEANUP drops it (after the processes pushed later,
    which use it, have been stopped)."""
    name = f"batchgate_bench_{secrets.token_hex(4)}"
    _pg_admin(services, f'CREATE DATABASE "{name}"')

    def drop() -> None:
        _pg_admin(services, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    CLEANUP.push(f"database {name}", drop)
    return f"postgresql+asyncpg://{services.pg_user}@{services.pg_host}:{services.pg_port}/{name}"


def redis_database(services: Services) -> str:
    """A Redis URL on a database index that holds no keys (so no concurrent test run uses it),
    flushed before use and again at cleanup."""
    import redis

    indices = list(range(1, 16))
    secrets.SystemRandom().shuffle(indices)
    for index in indices:
        url = f"{services.redis_url.rstrip('/')}/{index}"
        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            if client.dbsize() == 0:
                client.flushdb()

                def flush(client: redis.Redis = client) -> None:
                    client.flushdb()
                    client.close()

                CLEANUP.push(f"redis {url}", flush)
                return url
        except Exception:
            client.close()
            raise
        client.close()
    raise RuntimeError(f"no empty Redis database index at {services.redis_url}")


def check_services(services: Services) -> str | None:
    """None when PostgreSQL and Redis answer, else why not."""
    try:
        _pg_admin(services, "SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {services.pg_host}:{services.pg_port}: {exc!r}"
    try:
        import redis

        redis.Redis.from_url(services.redis_url, socket_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {services.redis_url}: {exc!r}"
    return None
