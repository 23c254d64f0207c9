"""The processes a scenario measures: the fake upstream and a batchgate stack (the embedded
default, or the server stack with its PostgreSQL database, Redis index and workers)."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness import (
    BATCHGATE,
    Proc,
    Services,
    child_env,
    free_port,
    postgres_database,
    redis_database,
)


@dataclass
class FakeUpstream:
    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"http://127.0.0.1:{self.port}/_fake/stats").json()
        return data

    def reset(self) -> None:
        httpx.post(f"http://127.0.0.1:{self.port}/_fake/reset")


def start_fake_upstream(workdir: Path, latency_ms: float) -> FakeUpstream:
    port = free_port()
    proc = Proc(
        f"fake-upstream-{latency_ms:g}ms",
        [*BATCHGATE, "fake-upstream", "--port", str(port), "--latency-ms", str(latency_ms)],
        child_env(),
        workdir / f"fake-upstream-{port}.log",
        workdir,
    ).start()
    proc.wait_http(f"http://127.0.0.1:{port}/_fake/stats")
    return FakeUpstream(proc, port)


@dataclass
class Stack:
    name: str
    api: Proc
    workers: list[Proc]
    base_url: str
    key: str
    database_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=self.key, max_retries=2, timeout=900)


def start_stack(
    name: str,
    workdir: Path,
    upstream: FakeUpstream,
    *,
    workers: int,
    concurrency: int,
    services: Services,
    extra_env: dict[str, Any] | None = None,
) -> Stack:
    """`workers == 0`: the embedded default (SQLite, jobs in the API process). Otherwise the
    server stack with `workers` worker processes of `concurrency` in flight each."""
    sdir = workdir / name
    sdir.mkdir(parents=True)
    key = f"sk-bench-{secrets.token_hex(12)}"
    settings: dict[str, Any] = {
        "BATCHGATE_DATA_DIR": sdir / "data",
        "BATCHGATE_API_KEYS": key,
        "BATCHGATE_UPSTREAM_URL": upstream.url,
        "BATCHGATE_UPSTREAM_MAX_CONCURRENCY": concurrency,
        **(extra_env or {}),
    }
    if workers:
        settings["BATCHGATE_DATABASE_URL"] = postgres_database(services)
        settings["BATCHGATE_REDIS_URL"] = redis_database(services)
    env = child_env(**settings)
    database_url = settings.get("BATCHGATE_DATABASE_URL", f"sqlite in {sdir / 'data'}")
    if workers:
        done = subprocess.run(
            [*BATCHGATE, "migrate"], env=env, cwd=sdir, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"batchgate migrate failed:\n{done.stdout}\n{done.stderr}")
    port = free_port()
    api = Proc("api", [*BATCHGATE, "serve", "--port", str(port)], env, sdir / "api.log", sdir)
    api.start()
    api.wait_http(f"http://127.0.0.1:{port}/healthz")
    procs = []
    for i in range(workers):
        worker = Proc(f"worker{i + 1}", [*BATCHGATE, "worker"], env, sdir / f"w{i + 1}.log", sdir)
        procs.append(worker.start())
    for worker in procs:
        worker.wait_log("consuming")
    return Stack(name, api, procs, f"http://127.0.0.1:{port}/v1", key, str(database_url))
