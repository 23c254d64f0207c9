"""Building batch input files, waiting for batches, and reading their results."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI
from openai.types import Batch

TERMINAL = ("completed", "failed", "expired", "cancelled")


def chat_line(custom_id: str, fault: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
    """One chat request; `user` = custom_id lets the fake upstream count calls per line."""
    payload: dict[str, Any] = {
        "model": "test-model",
        "messages": [{"role": "user", "content": f"say something about {custom_id}"}],
        "user": custom_id,
        **body,
    }
    if fault is not None:
        payload["x_fake"] = {"key": custom_id, **fault}
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": payload,
    }


def jsonl(lines: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def submit(client: OpenAI, lines: list[dict[str, Any]], window: str = "24h") -> Batch:
    uploaded = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id, endpoint=lines[0]["url"], completion_window=window
    )


def wait_for(
    client: OpenAI,
    batch_id: str,
    until: Callable[[Batch], bool] = lambda b: b.status in TERMINAL,
    timeout: float = 90.0,
) -> Batch:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if until(batch):
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch did not get there in {timeout}s: {batch}")
        time.sleep(0.2)


@dataclass
class Results:
    output: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def by_custom_id(self) -> dict[str, dict[str, Any]]:
        return {line["custom_id"]: line for line in self.output + self.errors}

    def custom_id_counts(self) -> Counter[str]:
        return Counter(line["custom_id"] for line in self.output + self.errors)


def results(client: OpenAI, batch: Batch) -> Results:
    found = Results()
    for file_id, target in (
        (batch.output_file_id, found.output),
        (batch.error_file_id, found.errors),
    ):
        if file_id:
            target.extend(json.loads(x) for x in client.files.content(file_id).text.splitlines())
    return found
