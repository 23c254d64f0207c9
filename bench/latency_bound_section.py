"""The latency-bound section (--latency-bound): a slow upstream, 1 worker vs 2 workers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from report import log, scenario_row
from sampler import Sampler
from scenarios import stack_scenario
from stack import start_fake_upstream
from workload import write_chat_lines


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
        log(scenario_row(name, results[name], None))
    one, two = results["lb-1worker"], results["lb-2workers"]
    results["speedup"] = two["rps"] / one["rps"]
    results["speedup_e2e"] = two["e2e_rps"] / one["e2e_rps"]
    upstream.proc.stop()
    return results
