"""The memory section (skip with --skip-memory): a 10,000- and a 50,000-line batch of ~4 KiB
lines on the server stack."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from report import log, memory_row
from sampler import MB, Sampler
from scenarios import stack_scenario
from stack import FakeUpstream
from workload import write_chat_lines


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
        log(memory_row(str(n), result))
        path.unlink()
    return results
