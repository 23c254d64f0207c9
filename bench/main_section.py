"""The main section: the direct baseline, the chosen batchgate scenarios, the baseline again."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from report import log, scenario_row
from sampler import Sampler
from scenarios import LABELS, direct_scenario, stack_scenario
from stack import FakeUpstream
from workload import write_chat_lines


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
        log(scenario_row(f"direct#{i}", run, None))
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
        log(scenario_row(LABELS[name], scenarios[name], None))
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
