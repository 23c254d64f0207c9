"""Running stacks as tests see them: the embedded default and the server stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openai import AsyncOpenAI, DefaultAsyncHttpxClient, DefaultHttpxClient, OpenAI

from support.procs import FakeUpstream, Server, Worker, base_env

#: bootstrap keys per stack: one tenant per test that asks for one
KEY_POOL = 400


@dataclass
class Stack:
    """A running `batchgate serve` plus what a test needs to talk to it."""

    server: Server
    upstream: FakeUpstream
    backend: str
    database_url: str
    keys: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def new_key(self) -> str:
        return self.keys.pop()

    # verify=False: plain HTTP on loopback, and skipping the CA bundle makes each client ~60 ms
    # cheaper, which adds up over hundreds of tests.

    def client(self, key: str | None = None) -> OpenAI:
        """A sync SDK client (no retries) for a fresh tenant, or for `key`."""
        return OpenAI(
            base_url=self.base_url,
            api_key=key or self.new_key(),
            max_retries=0,
            timeout=30,
            http_client=DefaultHttpxClient(verify=False),
        )

    def async_client(self, key: str | None = None) -> AsyncOpenAI:
        return AsyncOpenAI(
            base_url=self.base_url,
            api_key=key or self.new_key(),
            max_retries=0,
            timeout=30,
            http_client=DefaultAsyncHttpxClient(verify=False),
        )


TEST_SETTINGS = {
    "BATCHGATE_RECONCILE_INTERVAL_SECONDS": "0.5",
    "BATCHGATE_RETRY_BASE_SECONDS": "0.05",
    "BATCHGATE_RETRY_MAX_SECONDS": "0.3",
    "BATCHGATE_LEASE_SECONDS": "4",
    "BATCHGATE_UPSTREAM_TIMEOUT_SECONDS": "2",
    "BATCHGATE_COMPLETION_WINDOWS": "24h,4s",
    "BATCHGATE_MAX_BATCH_FILE_BYTES": str(1_000_000),
    "BATCHGATE_MAX_FILE_BYTES": str(2_000_000),
    "BATCHGATE_MAX_BATCH_LINES": "3000",
}


def stack_env(
    workdir: Path, database_url: str, upstream: FakeUpstream, keys: list[str], **extra: str
) -> dict[str, str]:
    return base_env(
        BATCHGATE_DATA_DIR=workdir / "data",
        BATCHGATE_DATABASE_URL=database_url,
        BATCHGATE_API_KEYS=",".join(keys),
        BATCHGATE_UPSTREAM_URL=upstream.url,
        **TEST_SETTINGS,
        **extra,
    )


@dataclass
class ServerStack(Stack):
    redis_url: str = ""
    workdir: Path = Path()
    env: dict[str, str] = field(default_factory=dict)
    workers: dict[str, Worker] = field(default_factory=dict)

    def start_worker(self, name: str) -> Worker:
        worker = Worker(self.workdir, self.env, name)
        worker.start()
        self.workers[name] = worker
        return worker
