"""One measured scenario: a batchgate stack running one batch end to end (upload -> create ->
poll -> download), or the direct baseline client against the fake upstream."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from harness import CLEANUP
from profiler import Profiler
from sampler import MB, Sampler, machine_cpu
from stack import FakeUpstream, Stack, start_stack
from workload import ENDPOINT, run_direct

TERMINAL = ("completed", "failed", "expired", "cancelled")
ALL_SCENARIOS = ("embedded", "stack1", "stack2")
LABELS = {"embedded": "embedded", "stack1": "stack-1worker", "stack2": "stack-2workers"}


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _download(client: Any, file_id: str | None, dest: Path) -> int:
    if not file_id:
        return 0
    with client.files.with_streaming_response.content(file_id) as response, dest.open("wb") as out:
        for chunk in response.iter_bytes(1 << 20):
            out.write(chunk)
    return _count_lines(dest)


def _busy(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Fraction of the machine's CPU (all cores) busy between two `machine_cpu()` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def watch_side_processes(sampler: Sampler, upstream: FakeUpstream) -> None:
    sampler.watch("upstream", upstream.proc.pid, tree=False)
    sampler.watch("client", os.getpid(), tree=False)


def run_batch(
    stack: Stack,
    lines_path: Path,
    n: int,
    sampler: Sampler,
    *,
    timeout: float,
    profile: Profiler | None = None,
) -> dict[str, Any]:
    """upload -> create -> poll -> download, with per-phase timings, CPU and RSS peaks."""
    client = stack.client()
    size = lines_path.stat().st_size
    roles = ["api"] + [w.name for w in stack.workers]
    cpu_before = sampler.cpu_seconds()
    machine_before = machine_cpu()
    sampler.open_window("run")
    sampler.open_window("upload")
    if profile:
        profile.start()
    t0 = time.perf_counter()
    with lines_path.open("rb") as handle:
        uploaded = client.files.create(file=(lines_path.name, handle), purpose="batch")
    t_uploaded = time.perf_counter()
    upload_peaks = sampler.close_window("upload")
    sampler.open_window("validate")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
    )
    t_created = time.perf_counter()
    t_in_progress: float | None = None
    validate_peaks: dict[str, int] = {}
    deadline = t_created + timeout
    while batch.status not in TERMINAL:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{stack.name}: batch still {batch.status} after {timeout}s")
        for proc in [stack.api, *stack.workers]:
            proc.check_alive()
        time.sleep(0.05 if t_in_progress is None else 0.1)
        batch = client.batches.retrieve(batch.id)
        if t_in_progress is None and batch.status != "validating":
            t_in_progress = time.perf_counter()
            validate_peaks = sampler.close_window("validate")
    t_completed = time.perf_counter()
    if profile:
        profile.stop()
    if t_in_progress is None:
        validate_peaks = sampler.close_window("validate")
    if batch.status != "completed":
        raise RuntimeError(f"{stack.name}: batch ended {batch.status}: {batch.errors}")
    out_dir = lines_path.parent / f"out-{stack.name}"
    out_dir.mkdir(exist_ok=True)
    ok_lines = _download(client, batch.output_file_id, out_dir / "output.jsonl")
    error_lines = _download(client, batch.error_file_id, out_dir / "errors.jsonl")
    t_downloaded = time.perf_counter()
    run_peaks = sampler.close_window("run")
    cpu_after = sampler.cpu_seconds()
    machine_after = machine_cpu()
    client.close()
    cpu = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
    ours = sum(cpu[role] for role in roles)
    wall = t_completed - t_created
    e2e = t_downloaded - t0
    validation = (t_in_progress or t_completed) - t_created
    counts = batch.request_counts
    return {
        "n": n,
        "bytes": size,
        "upload_s": t_uploaded - t0,
        "validation_s": validation,
        "wall_s": wall,
        "e2e_s": e2e,
        "rps": n / wall,
        "e2e_rps": n / e2e,
        "cpu_s": cpu,
        "cpu_ms_per_req": 1000 * ours / n,
        "cpu_ms_per_req_by_process": {role: 1000 * seconds / n for role, seconds in cpu.items()},
        "machine_busy": _busy(machine_before, machine_after),
        "peak_rss_mb": {role: run_peaks.get(role, 0) / MB for role in roles},
        "upload_peak_rss_mb": {role: upload_peaks.get(role, 0) / MB for role in roles},
        "validation_peak_rss_mb": {role: validate_peaks.get(role, 0) / MB for role in roles},
        "output_lines": ok_lines,
        "error_lines": error_lines,
        "request_counts": {"completed": counts.completed, "failed": counts.failed},
    }


def stack_scenario(
    name: str,
    workdir: Path,
    upstream: FakeUpstream,
    lines_path: Path,
    n: int,
    sampler: Sampler,
    args: argparse.Namespace,
    *,
    workers: int,
    concurrency: int,
    extra_env: dict[str, Any] | None = None,
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    mark = CLEANUP.mark()
    try:
        stack = start_stack(
            name,
            workdir,
            upstream,
            workers=workers,
            concurrency=concurrency,
            services=args.services,
            extra_env=extra_env,
        )
        sampler.watch("api", stack.api.pid)
        for worker in stack.workers:
            sampler.watch(worker.name, worker.pid)
        watch_side_processes(sampler, upstream)
        if workers:
            sampler.watch_postgres(stack.database_url.rsplit("/", 1)[-1])
        upstream.reset()
        profiler = None
        if profile_dir is not None:
            targets = {w.name: w.pid for w in stack.workers} | {"api": stack.api.pid}
            profiler = Profiler(profile_dir / name, targets, workdir)
        result = run_batch(stack, lines_path, n, sampler, timeout=args.timeout, profile=profiler)
        stats = upstream.stats()
        result.update(
            scenario=name,
            workers=workers,
            concurrency_per_process=concurrency,
            upstream_requests=stats.get("total"),
            upstream_max_in_flight=stats.get("max_in_flight"),
        )
        if result["output_lines"] != n or result["error_lines"]:
            result["warning"] = (
                f"expected {n} output lines, got {result['output_lines']} "
                f"(+{result['error_lines']} error lines)"
            )
        return result
    finally:
        sampler.unwatch_all()
        CLEANUP.run(mark)


def direct_scenario(
    upstream: FakeUpstream,
    lines_path: Path,
    n: int,
    concurrency: int,
    out: Path,
    sampler: Sampler,
) -> dict[str, Any]:
    upstream.reset()
    watch_side_processes(sampler, upstream)
    before, machine_before = sampler.cpu_seconds(), machine_cpu()
    try:
        result = run_direct(upstream.url, lines_path, out, concurrency)
        after, machine_after = sampler.cpu_seconds(), machine_cpu()
    finally:
        sampler.unwatch_all()
    stats = upstream.stats()
    by_process = {role: 1000 * (after[role] - before[role]) / n for role in after}
    ok = result["statuses"].get(200, 0)
    return {
        "scenario": "direct",
        "n": n,
        "wall_s": result["wall_s"],
        "e2e_s": result["wall_s"],
        "rps": n / result["wall_s"],
        "e2e_rps": n / result["wall_s"],
        "client_cpu_ms_per_req": by_process["client"],
        "cpu_ms_per_req_by_process": by_process,
        "machine_busy": _busy(machine_before, machine_after),
        "statuses": result["statuses"],
        "upstream_requests": stats.get("total"),
        "upstream_max_in_flight": stats.get("max_in_flight"),
        **({} if ok == n else {"warning": f"only {ok}/{n} answered 200"}),
    }
