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

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli import parse_args
from harness import CLEANUP, check_services, install_signal_handlers
from latency_bound_section import latency_bound_section
from main_section import main_section
from memory_section import memory_section
from report import log, print_report
from sampler import Sampler
from stack import start_fake_upstream
from targets import targets


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, description=__doc__)
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
