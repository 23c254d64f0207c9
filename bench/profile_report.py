#!/usr/bin/env python
"""Summarise a `py-spy record --format raw` file (collapsed stacks: `f1;f2;...;leaf count`).

    .venv/bin/python bench/profile_report.py PROFILE.txt [--top 25] [--requests N]

Prints, as % of all (non-idle) samples: the functions where samples land (self), the
functions on the stack (inclusive, each counted once per stack), and self time grouped by
library. With --requests, also the CPU-ms each inclusive entry costs per request, given the
process's measured CPU per request (--cpu-ms-per-req).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# (substring of the file path, group name), first match wins
_GROUPS = [
    ("batchgate/engine/", "batchgate.engine"),
    ("batchgate/upstream/", "batchgate.upstream"),
    ("batchgate/", "batchgate (other)"),
    ("sqlalchemy/", "sqlalchemy"),
    ("asyncpg/", "asyncpg"),
    ("aiosqlite/", "aiosqlite"),
    ("aiohttp/", "aiohttp"),
    ("yarl/", "yarl/multidict"),
    ("multidict/", "yarl/multidict"),
    ("uvloop/", "uvloop"),
    ("asyncio/", "asyncio"),
    ("arq/", "arq/redis"),
    ("redis/", "arq/redis"),
    ("starlette/", "starlette/fastapi"),
    ("fastapi/", "starlette/fastapi"),
    ("uvicorn/", "uvicorn"),
    ("pydantic", "pydantic"),
    ("logging/", "logging"),
    ("prometheus_client/", "prometheus_client"),
    ("concurrent/", "threads (to_thread)"),
    ("threading.py", "threads (to_thread)"),
]


# (needle in a frame label, activity), first match over the rules wins; a stack is tested
# against every rule in order, so put the most specific first
_ACTIVITIES = [
    ("validate_batch", "validate job (scan input, insert line rows)"),
    ("finalize_batch", "finalize job (read finished rows, write output files)"),
    ("Executor._record", "record results (one statement: fenced UPDATE + counters)"),
    ("Executor._claim", "claim lines (UPDATE..RETURNING + read input ranges)"),
    ("Executor._heartbeat_loop", "lease heartbeat"),
    ("reconcil", "reconciler"),
    ("Executor._send", "send upstream (HTTP request/response, classify)"),
    ("UpstreamClient.send", "send upstream (HTTP request/response, classify)"),
    ("Http1Connection", "upstream connection callbacks (data_received, parsing)"),
    ("create_file", "API: file upload"),
    ("file_content", "API: file download"),
    ("(starlette/", "API: HTTP handling (starlette/fastapi)"),
    ("(fastapi/", "API: HTTP handling (starlette/fastapi)"),
    ("(uvicorn/protocols/", "API: HTTP handling (uvicorn)"),
    ("(prometheus_client/", "prometheus metrics (outside a send frame)"),
    ("(arq/", "arq / redis"),
    ("(redis/", "arq / redis"),
    ("(aiohttp/", "aiohttp callbacks outside a send frame (data_received, write_bytes)"),
    ("instances (sqlalchemy/orm/loading", "SQLAlchemy in a greenlet: ORM row loading"),
    ("(sqlalchemy/", "SQLAlchemy in a greenlet: statement execution (caller not visible)"),
    ("(asyncpg/", "asyncpg (caller not visible)"),
    ("(aiosqlite/", "aiosqlite thread (SQLite statements)"),
    ("(concurrent/futures/thread", "thread pool (to_thread: file reads/writes)"),
]


def activity(labels: list[str]) -> str:
    """What a stack was doing, by the rules above; bare event-loop stacks are the loop."""
    for needle, name in _ACTIVITIES:
        if any(needle in label for label in labels):
            return name
    leaf = labels[-1] if labels else ""
    if leaf.startswith(("Runner.run", "run (uvloop")):
        return "event loop itself (uvloop C code: epoll, socket I/O, callback dispatch)"
    if "(asyncio/" in leaf:
        return "asyncio scheduling (tasks, futures, events)"
    return "other"


def frame_parts(frame: str) -> tuple[str, str]:
    """(function label without line number, group) for one py-spy frame."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), "other"
    path = match["file"]
    group = next((name for needle, name in _GROUPS if needle in path), "other")
    short = path.split("site-packages/")[-1].split("/src/")[-1]
    return f"{match['func']} ({short})", group


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread (")]
        stacks.append((frames, int(count)))
    return stacks


def summarise(path: Path, top: int = 25) -> str:
    stacks = load(path)
    total = sum(count for _, count in stacks)
    if not total:
        return f"{path}: no samples"
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for frames, count in stacks:
        if not frames:
            continue
        parts = [frame_parts(f) for f in frames]
        activities[activity([label for label, _ in parts])] += count
        leaf, group = parts[-1]
        self_time[leaf] += count
        groups[group] += count
        for label in {label for label, _ in parts}:
            inclusive[label] += count
    lines = [f"{path}: {total} samples"]
    lines.append("  self (where samples land):")
    lines += [f"    {100 * c / total:5.1f}%  {label}" for label, c in self_time.most_common(top)]
    lines.append("  inclusive (on the stack):")
    lines += [f"    {100 * c / total:5.1f}%  {label}" for label, c in inclusive.most_common(top)]
    lines.append("  by activity (whole stack):")
    lines += [f"    {100 * c / total:5.1f}%  {label}" for label, c in activities.most_common()]
    lines.append("  self by library:")
    lines += [f"    {100 * c / total:5.1f}%  {label}" for label, c in groups.most_common()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.profiles:
        print(summarise(path, args.top))
        print()


if __name__ == "__main__":
    main()
