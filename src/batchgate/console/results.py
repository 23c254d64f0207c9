"""Downloading a finished batch's output and error files next to each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openai import OpenAI
from openai.types import Batch


@dataclass(frozen=True)
class Download:
    kind: str  # "output" or "errors"
    path: Path
    lines: int


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def file_path(output_dir: Path, batch_id: str, kind: str) -> Path:
    return output_dir / f"{batch_id}_{kind}.jsonl"


def download(client: OpenAI, batch: Batch, output_dir: Path) -> list[Download]:
    """Stream the output and error files (those that exist) into `output_dir`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    found: list[Download] = []
    for kind, file_id in (("output", batch.output_file_id), ("errors", batch.error_file_id)):
        if not file_id:
            continue
        path = file_path(output_dir, batch.id, kind)
        partial = path.with_name(path.name + ".part")
        with client.files.with_streaming_response.content(file_id) as response:
            response.stream_to_file(partial)
        partial.replace(path)
        found.append(Download(kind, path, count_lines(path)))
    return found
