#!/usr/bin/env python
"""batchgate throughput, CPU and memory benchmark.

    .venv/bin/python bench/run.py                      # defaults: N=20000, C=256, 20 ms upstream
    .venv/bin/python bench/run.py --latency-bound      # + 200 ms upstream, 1 vs 2 workers
    .venv/bin/python bench/run.py --n 200 --concurrency 16 --latency-ms 1 --skip-memory \\
        --scenarios embedded,stack1                     # a smoke run

One run, side by side on the same machine (ratios are what to quote on a noisy host):

1. `batchgate fake-upstream --latency-ms L` on a free port;
2. the direct baseline: a minimal aiohttp loop sends the same N chat lines straight to the fake
   upstream with C in flight and writes the responses to a JSONL file (run before and after the
   batchgate scenarios; the baseline is their mean);
3. batchgate end to end (openai SDK: upload -> create -> poll -> download output and errors)
   on the embedded default (SQLite, `batchgate serve` alone) and on the server stack
   (PostgreSQL + Redis, `batchgate migrate`, `serve`, 1 or 2 `worker`s with C/workers each),
   each on a fresh database, data dir and Redis database index;
4. the memory section (skip with --skip-memory): a 200 MiB / 50,000-line upload (lines padded
   to ~4 KiB) on the server stack, and a 10,000- and a 50,000-line batch run to completion;
5. with --latency-bound: a 200 ms upstream, 64 in flight per worker, 1 worker vs 2 workers.

With --profile DIR, py-spy (pip install py-spy into the venv) records the API and each worker
from upload to completion: DIR/<scenario>/<process>.txt (collapsed stacks, summarised by
`bench/profile_report.py`) and .svg (flamegraph). Profiled runs are slower: quote figures
from runs without it.

Everything it starts (processes, databases, Redis data, temp files) is removed on exit,
failure, Ctrl-C or SIGTERM. Nothing here imports from tests/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BATCHGATE,
    CLEANUP,
    MB,
    Proc,
    Sampler,
    Services,
    check_services,
    child_env,
    free_port,
    install_signal_handlers,
    machine_cpu,
    postgres_database,
    redis_database,
)
from workload import ENDPOINT, run_direct, write_chat_lines

TERMINAL = ("completed", "failed", "expired", "cancelled")
ALL_SCENARIOS = ("embedded", "stack1", "stack2")
LABELS = {"embedded": "embedded", "stack1": "stack-1worker", "stack2": "stack-2workers"}

# --- the targets of the issue -------------------------------------------------------------------
T_STACK1_VS_DIRECT = 0.75
T_CPU_MS_PER_REQ = 0.6
T_LATENCY_SPEEDUP = 1.8
T_API_UPLOAD_RSS_MB = 150
T_UPLOAD_VALIDATE_MBPS = 50
T_WORKER_RSS_MB = 250
T_WORKER_RSS_GROWTH = 1.20


# --- processes ----------------------------------------------------------------------------------


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


# --- one batch, end to end ----------------------------------------------------------------------


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


# --- profiling (optional) -----------------------------------------------------------------------


class Profiler:
    """py-spy `record --format raw` on each process from upload start to batch completed."""

    def __init__(self, out_dir: Path, targets: dict[str, int], workdir: Path) -> None:
        self.out_dir, self.targets, self.workdir = out_dir, targets, workdir
        self.procs: list[Proc] = []
        exe = Path(sys.executable).parent / "py-spy"
        self.exe = str(exe) if exe.exists() else shutil.which("py-spy")
        if self.exe is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy into the venv)")

    def start(self) -> None:
        """Two recorders per process: raw collapsed stacks (for profile_report.py) and an SVG
        flamegraph. --nonblocking reads the target's memory without pausing it."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for role, pid in self.targets.items():
            for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
                args = [
                    self.exe or "py-spy",
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "100",
                    "--nonblocking",
                    "--format",
                    fmt,
                    "-o",
                    str(self.out_dir / f"{role}.{suffix}"),
                ]
                log_path = self.out_dir / f"{role}-{fmt}.log"
                proc = Proc(f"py-spy-{role}-{fmt}", args, child_env(), log_path, self.workdir)
                self.procs.append(proc.start())

    def stop(self) -> None:
        for proc in self.procs:
            if proc.alive() and proc.popen is not None:
                proc.popen.send_signal(signal.SIGINT)
        for proc in self.procs:
            if proc.popen is not None:
                try:
                    proc.popen.wait(30)
                except subprocess.TimeoutExpired:
                    proc.stop()


# --- the sections -------------------------------------------------------------------------------


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


def memory_section(
    workdir: Path, upstream: FakeUpstream, sampler: Sampler, args: argparse.Namespace
) -> dict[str, Any]:
    """A 10,000- and a 50,000-line batch of ~4 KiB lines (the latter 200 MiB) on the server
    stack with 1 worker: upload and validation rates, API peak RSS while uploading, worker
    peak RSS over each whole batch (fresh processes for each)."""
    line_bytes = (200 * MB) // 50_000  # 4194 bytes: 50,000 lines = 200 MiB exactly
    extra = {
        "BATCHGATE_MAX_BATCH_LINES": 50_000,
        "BATCHGATE_MAX_BATCH_FILE_BYTES": 220 * MB,
        "BATCHGATE_MAX_FILE_BYTES": 512 * MB,
    }
    results: dict[str, Any] = {}
    for n in (10_000, 50_000):
        path = workdir / f"memory-{n}.jsonl"
        started = time.perf_counter()
        size = write_chat_lines(path, n, pad_to=line_bytes)
        log(
            f"memory: generated {path.name} ({size / MB:.1f} MiB) in "
            f"{time.perf_counter() - started:.1f}s"
        )
        result = stack_scenario(
            f"memory-{n}",
            workdir,
            upstream,
            path,
            n,
            sampler,
            args,
            workers=1,
            concurrency=args.concurrency,
            extra_env=extra,
            profile_dir=args.profile,
        )
        result["upload_mbps"] = size / MB / result["upload_s"]
        result["validation_mbps"] = size / MB / result["validation_s"]
        result["upload_validation_mbps"] = size / MB / (result["upload_s"] + result["validation_s"])
        results[str(n)] = result
        log(_memory_row(str(n), result))
        path.unlink()
    return results


def latency_bound_section(
    workdir: Path, sampler: Sampler, args: argparse.Namespace
) -> dict[str, Any]:
    upstream = start_fake_upstream(workdir, args.lb_latency_ms)
    lines = workdir / "latency-bound.jsonl"
    write_chat_lines(lines, args.lb_n)
    results: dict[str, Any] = {}
    for workers in (1, 2):
        name = f"lb-{workers}worker{'s' if workers > 1 else ''}"
        results[name] = stack_scenario(
            name,
            workdir,
            upstream,
            lines,
            args.lb_n,
            sampler,
            args,
            workers=workers,
            concurrency=args.lb_concurrency,
            profile_dir=args.profile,
        )
        log(_row(name, results[name], None))
    one, two = results["lb-1worker"], results["lb-2workers"]
    results["speedup"] = two["rps"] / one["rps"]
    results["speedup_e2e"] = two["e2e_rps"] / one["e2e_rps"]
    upstream.proc.stop()
    return results


def main_section(
    workdir: Path, upstream: FakeUpstream, sampler: Sampler, args: argparse.Namespace
) -> dict[str, Any]:
    """The direct baseline, the chosen batchgate scenarios, the baseline again."""
    lines = workdir / "chat.jsonl"
    write_chat_lines(lines, args.n)

    def direct(i: int) -> dict[str, Any]:
        run = direct_scenario(
            upstream, lines, args.n, args.concurrency, workdir / f"direct{i}.jsonl", sampler
        )
        log(_row(f"direct#{i}", run, None))
        return run

    runs = [direct(1)]
    scenarios: dict[str, Any] = {}
    for name in args.scenario_list:
        workers = {"embedded": 0, "stack1": 1, "stack2": 2}[name]
        scenarios[name] = stack_scenario(
            name,
            workdir,
            upstream,
            lines,
            args.n,
            sampler,
            args,
            workers=workers,
            concurrency=args.concurrency // max(1, workers),
            profile_dir=args.profile,
        )
        log(_row(LABELS[name], scenarios[name], None))
    runs += [direct(i) for i in range(2, args.direct_runs + 1)]
    wall = sum(r["wall_s"] for r in runs) / len(runs)
    baseline = {
        **runs[0],
        "wall_s": wall,
        "e2e_s": wall,
        "rps": args.n / wall,
        "e2e_rps": args.n / wall,
        "client_cpu_ms_per_req": sum(r["client_cpu_ms_per_req"] for r in runs) / len(runs),
        "upstream_max_in_flight": max(r["upstream_max_in_flight"] or 0 for r in runs),
    }
    return {"direct_runs": runs, "direct": baseline, "scenarios": scenarios}


# --- reporting ----------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, flush=True)


HEADER = (
    f"{'scenario':<16}{'wall_s':>8}{'e2e_s':>8}{'req/s':>9}{'vs_direct':>10}{'e2e_vs':>8}"
    f"{'cpu_ms/req':>11}  {'peak_rss_MB(api/workers)':<26}{'up_max_inflight':>15}"
)


def _rss(result: dict[str, Any]) -> str:
    peaks = result.get("peak_rss_mb")
    if not peaks:
        return "-"
    workers = [f"{v:.0f}" for k, v in peaks.items() if k != "api"]
    return f"{peaks['api']:.0f}/" + ("+".join(workers) if workers else "-")


def _row(label: str, result: dict[str, Any], direct: dict[str, Any] | None) -> str:
    vs = f"{result['rps'] / direct['rps']:.2f}" if direct else "-"
    e2e_vs = f"{result['e2e_rps'] / direct['rps']:.2f}" if direct else "-"
    cpu = result.get("cpu_ms_per_req")
    cpu_text = f"{cpu:.3f}" if cpu is not None else f"({result['client_cpu_ms_per_req']:.3f})"
    line = (
        f"{label:<16}{result['wall_s']:>8.2f}{result['e2e_s']:>8.2f}{result['rps']:>9.0f}"
        f"{vs:>10}{e2e_vs:>8}{cpu_text:>11}  {_rss(result):<26}"
        f"{result.get('upstream_max_in_flight') or '-':>15}"
    )
    if result.get("warning"):
        line += f"   ! {result['warning']}"
    return line


def _memory_row(label: str, r: dict[str, Any]) -> str:
    return (
        f"memory {label:>6} lines: {r['bytes'] / MB:6.1f} MiB  upload {r['upload_s']:.2f}s "
        f"({r['upload_mbps']:.0f} MiB/s)  validation {r['validation_s']:.2f}s "
        f"({r['validation_mbps']:.0f} MiB/s)  upload+validation {r['upload_validation_mbps']:.0f} "
        f"MiB/s  API peak RSS upload {r['upload_peak_rss_mb']['api']:.0f} MiB / whole run "
        f"{r['peak_rss_mb']['api']:.0f} MiB  worker peak RSS {r['peak_rss_mb']['worker1']:.0f} "
        f"MiB  run {r['wall_s']:.1f}s ({r['rps']:.0f} req/s)"
    )


def _cpu_table(report: dict[str, Any]) -> None:
    """Where the machine's CPU went, per request, by process (not only batchgate's)."""
    rows = [(f"direct#{i + 1}", r) for i, r in enumerate(report.get("direct_runs", []))]
    rows += [(LABELS[name], r) for name, r in report.get("scenarios", {}).items()]
    if not rows:
        return
    log("")
    log("CPU ms per request by process (upstream = the fake upstream, client = this script,")
    log("postgres = backends of the scenario's database); busy = whole machine, all cores:")
    log(
        f"{'scenario':<16}{'api':>8}{'workers':>9}{'upstream':>10}{'postgres':>10}"
        f"{'client':>8}{'sum':>8}{'busy':>7}"
    )
    for label, row in rows:
        by = row.get("cpu_ms_per_req_by_process", {})
        workers = sum(v for k, v in by.items() if k.startswith("worker"))
        cells = [by.get("api"), workers if "worker1" in by else None]
        cells += [by.get("upstream"), by.get("postgres"), by.get("client")]
        text = "".join(
            f"{'-' if v is None else f'{v:.3f}':>{w}}"
            for v, w in zip(cells, (8, 9, 10, 10, 8), strict=True)
        )
        log(
            f"{label:<16}{text}{sum(v or 0 for v in cells):>8.3f}"
            f"{100 * row.get('machine_busy', 0):>6.0f}%"
        )


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    direct = report.get("direct")
    rows = report.get("scenarios", {})
    if direct and "stack1" in rows:
        ratio = rows["stack1"]["rps"] / direct["rps"]
        e2e = rows["stack1"]["e2e_rps"] / direct["rps"]
        out.append(
            {
                "target": f"stack 1 worker >= {T_STACK1_VS_DIRECT} x direct req/s",
                "value": f"{ratio:.2f} x (create->completed); {e2e:.2f} x (upload->downloaded)",
                "met": ratio >= T_STACK1_VS_DIRECT,
            }
        )
    for name, row in rows.items():
        out.append(
            {
                "target": f"CPU per request <= {T_CPU_MS_PER_REQ} ms ({LABELS[name]}, API+workers)",
                "value": f"{row['cpu_ms_per_req']:.3f} ms",
                "met": row["cpu_ms_per_req"] <= T_CPU_MS_PER_REQ,
            }
        )
    lb = report.get("latency_bound")
    if lb:
        out.append(
            {
                "target": f"latency-bound: 2 workers >= {T_LATENCY_SPEEDUP} x 1 worker",
                "value": f"{lb['speedup']:.2f} x (e2e {lb['speedup_e2e']:.2f} x)",
                "met": lb["speedup"] >= T_LATENCY_SPEEDUP,
            }
        )
    memory = report.get("memory")
    if memory:
        big, small = memory["50000"], memory["10000"]
        api = big["upload_peak_rss_mb"]["api"]
        out.append(
            {
                "target": f"API peak RSS while uploading 200 MiB <= {T_API_UPLOAD_RSS_MB} MB",
                "value": f"{api:.0f} MiB",
                "met": api <= T_API_UPLOAD_RSS_MB,
            }
        )
        rate = big["upload_validation_mbps"]
        out.append(
            {
                "target": f"upload + validation >= {T_UPLOAD_VALIDATE_MBPS} MB/s (200 MiB file)",
                "value": f"{rate:.0f} MiB/s (upload {big['upload_mbps']:.0f}, "
                f"validation {big['validation_mbps']:.0f})",
                "met": rate >= T_UPLOAD_VALIDATE_MBPS,
            }
        )
        w50, w10 = big["peak_rss_mb"]["worker1"], small["peak_rss_mb"]["worker1"]
        out.append(
            {
                "target": f"worker peak RSS <= {T_WORKER_RSS_MB} MB on 50k lines, "
                f"<= {T_WORKER_RSS_GROWTH:.2f} x the 10k figure",
                "value": f"{w50:.0f} MiB (10k: {w10:.0f} MiB, x{w50 / w10:.2f})",
                "met": w50 <= T_WORKER_RSS_MB and w50 <= T_WORKER_RSS_GROWTH * w10,
            }
        )
    return out


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    log("")
    log(
        f"== N={cfg['n']} lines, C={cfg['concurrency']} in flight, upstream latency "
        f"{cfg['latency_ms']:g} ms, {cfg['cpus']} CPUs =="
    )
    log(f"batchgate measured: {cfg['code']}")
    log("wall_s = create -> completed (direct: first send -> last response written);")
    log("e2e_s = upload -> both files downloaded; req/s = N / wall_s; vs_direct = req/s ratio;")
    log(
        "e2e_vs = (N / e2e_s) / direct req/s; cpu_ms/req = API + workers CPU (direct: the client's,"
    )
    log("in parentheses); RSS in MiB; up_max_inflight = most concurrent requests the upstream saw")
    log(HEADER)
    direct = report.get("direct")
    if direct:
        runs = report.get("direct_runs", [])
        for i, run in enumerate(runs):
            log(_row(f"direct#{i + 1}", run, None))
        log(_row("direct", direct, None) + "   (mean of the runs above: the baseline)")
    for name, row in report.get("scenarios", {}).items():
        log(_row(LABELS[name], row, direct))
    _cpu_table(report)
    lb = report.get("latency_bound")
    if lb:
        log("")
        log(
            f"latency-bound: upstream {cfg['lb_latency_ms']:g} ms, {cfg['lb_concurrency']} in "
            f"flight per worker, N={cfg['lb_n']} (ceiling {cfg['lb_concurrency']} / latency = "
            f"{cfg['lb_concurrency'] / cfg['lb_latency_ms'] * 1000:.0f} req/s per worker)"
        )
        log(HEADER)
        for name in ("lb-1worker", "lb-2workers"):
            log(_row(name, lb[name], None))
        log(f"speed-up 2 workers / 1 worker: {lb['speedup']:.2f} x (e2e {lb['speedup_e2e']:.2f} x)")
    memory = report.get("memory")
    if memory:
        log("")
        for label, result in memory.items():
            log(_memory_row(label, result))
    log("")
    log("targets:")
    for item in report["targets"]:
        log(f"  [{_verdict(item['met']):>7}] {item['target']}: {item['value']}")


# --- main ---------------------------------------------------------------------------------------


def code_version() -> str:
    """Which batchgate was measured: git HEAD plus the files under src/ that differ from it
    (read-only git commands; other people may be editing the tree during a run)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        return done.stdout if done.returncode == 0 else ""

    try:
        head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
        dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return f"git {head}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=20_000, help="chat lines per scenario")
    p.add_argument("--concurrency", type=int, default=256, help="total requests in flight")
    p.add_argument("--latency-ms", type=float, default=20.0, help="fake upstream latency")
    p.add_argument(
        "--scenarios",
        default=",".join(ALL_SCENARIOS),
        help="comma-separated subset of embedded,stack1,stack2 ('none' for only the other "
        "sections); the direct baseline always runs with them",
    )
    p.add_argument("--direct-runs", type=int, default=2, help="direct baseline runs (mean)")
    p.add_argument("--skip-memory", action="store_true", help="skip the memory section")
    p.add_argument("--latency-bound", action="store_true", help="run the latency-bound section")
    p.add_argument("--lb-n", type=int, default=8_000, help="lines for --latency-bound")
    p.add_argument("--lb-latency-ms", type=float, default=200.0)
    p.add_argument("--lb-concurrency", type=int, default=64, help="per worker")
    p.add_argument("--json", type=Path, help="write every figure to this JSON file")
    p.add_argument("--profile", type=Path, help="py-spy the API and workers into this dir")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per batch")
    p.add_argument("--workdir", type=Path, help="parent of the temporary run directory")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, files)")
    p.add_argument("--pg-host", default=os.environ.get("BATCHGATE_TEST_PG_HOST", "127.0.0.1"))
    p.add_argument(
        "--pg-port", type=int, default=int(os.environ.get("BATCHGATE_TEST_PG_PORT", "5432"))
    )
    p.add_argument("--pg-user", default=os.environ.get("BATCHGATE_TEST_PG_USER", "postgres"))
    p.add_argument(
        "--redis-url", default=os.environ.get("BATCHGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    )
    args = p.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip() and s.strip() != "none"]
    unknown = set(chosen) - set(ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenario_list = [s for s in ALL_SCENARIOS if s in chosen]
    if "stack2" in args.scenario_list and args.concurrency % 2:
        p.error("--concurrency must be even with stack2 (C/2 per worker)")
    args.services = Services(args.pg_host, args.pg_port, args.pg_user, args.redis_url)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    needs_services = (
        any(s.startswith("stack") for s in args.scenario_list)
        or not args.skip_memory
        or args.latency_bound
    )
    if needs_services and (problem := check_services(args.services)):
        print(f"bench: the server stack needs {problem}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="batchgate-bench-", dir=args.workdir))
    if not args.keep:
        CLEANUP.push(f"run dir {workdir}", lambda: shutil.rmtree(workdir, ignore_errors=True))
    sampler = Sampler(0.1)
    sampler.start()
    report: dict[str, Any] = {
        "config": {
            "n": args.n,
            "concurrency": args.concurrency,
            "latency_ms": args.latency_ms,
            "scenarios": args.scenario_list,
            "lb_n": args.lb_n,
            "lb_latency_ms": args.lb_latency_ms,
            "lb_concurrency": args.lb_concurrency,
            "cpus": os.cpu_count(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version(),
            "code": code_version(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    }
    started = time.perf_counter()
    try:
        log(f"bench: run dir {workdir}")
        if args.scenario_list or not args.skip_memory:
            upstream = start_fake_upstream(workdir, args.latency_ms)
            if args.scenario_list:
                report.update(main_section(workdir, upstream, sampler, args))
            if not args.skip_memory:
                report["memory"] = memory_section(workdir, upstream, sampler, args)
            upstream.proc.stop()
        if args.latency_bound:
            report["latency_bound"] = latency_bound_section(workdir, sampler, args)
        report["targets"] = targets(report)
        report["duration_s"] = time.perf_counter() - started
        print_report(report)
        log(f"\nbench: finished in {report['duration_s']:.0f}s")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
            log(f"bench: figures written to {args.json}")
        if args.profile:
            log(
                f"bench: py-spy profiles in {args.profile}/<scenario>/<process>.txt; summarise "
                "with bench/profile_report.py"
            )
        if args.keep:
            log(f"bench: kept {workdir}")
        return 0
    except KeyboardInterrupt:
        print("\nbench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        sampler.stop()
        CLEANUP.run()


if __name__ == "__main__":
    raise SystemExit(main())
