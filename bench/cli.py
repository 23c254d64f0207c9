"""The benchmark's command-line arguments."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness import Services
from scenarios import ALL_SCENARIOS


def parse_args(
    argv: list[str] | None = None, *, description: str | None = None
) -> argparse.Namespace:
    """`description` heads --help (run.py passes its module docstring)."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
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
