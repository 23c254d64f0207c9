"""`batchgate submit FILE.jsonl`: upload, create the batch, and (with --wait) see it through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import OpenAI
from openai.types import Batch
from rich.console import Console

from batchgate.console.connection import Connection
from batchgate.console.inputs import check_file, infer_endpoint, upload
from batchgate.console.watch import Finished, wait


@dataclass(frozen=True)
class Submission:
    path: Path
    endpoint: str | None = None
    window: str = "24h"
    metadata: dict[str, str] | None = None
    output_dir: Path = Path(".")


def create(client: OpenAI, job: Submission, console: Console) -> Batch:
    """Upload the file and create the batch; prints the file id and the batch id."""
    check_file(job.path)
    endpoint = job.endpoint or infer_endpoint(job.path)
    uploaded = upload(client, job.path, console)
    # The SDK types endpoint and window as OpenAI's literals; batchgate accepts more windows.
    params: dict[str, Any] = {
        "input_file_id": uploaded.id,
        "endpoint": endpoint,
        "completion_window": job.window,
    }
    if job.metadata:
        params["metadata"] = job.metadata
    batch = client.batches.create(**params)
    console.print(f"created batch [bold]{batch.id}[/] ({endpoint}, window {job.window})")
    return batch


def submit(
    conn: Connection,
    job: Submission,
    console: Console,
    *,
    wait_for_it: bool,
    resumable: bool = True,
) -> Finished | None:
    """The whole `submit` command; None when not waiting."""
    client = conn.client()
    batch = create(client, job, console)
    if not wait_for_it:
        console.print(f"follow it with: batchgate batches watch {batch.id}", markup=False)
        return None
    return wait(client, batch.id, job.output_dir, conn, console=console, resumable=resumable)
