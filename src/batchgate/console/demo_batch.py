"""The demo's batch: chat requests for the fake model, a few that fail for good, and reading the
results back for display."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODEL = "demo-model"

PROMPTS = (
    "Summarise the plot of Hamlet in one sentence.",
    "Translate 'good morning' into French.",
    "Classify the sentiment: 'the delivery was late again'.",
    "Give a title for a blog post about batch inference.",
    "Extract the city from: 'Ship to 12 Rue de Rivoli, Paris'.",
    "Write a haiku about a quiet server room.",
    "Is 'I love this phone' positive or negative?",
    "Name three uses of a message queue.",
    "Suggest a name for a friendly robot.",
    "What is the capital of Australia?",
    "Rewrite formally: 'gonna be late, sorry'.",
    "List two pros of self-hosting models.",
)

#: requests the fake model refuses every time (`x_fake`), so the error file has something in it
PERMANENT_FAILURES = (
    {"fail_times": -1, "status": 400},  # context_length_exceeded
    {"fail_times": -1, "status": 404},  # model_not_found
)


def _line(number: int, width: int, fault: dict[str, Any] | None) -> dict[str, Any]:
    custom_id = f"request-{number:0{width}d}"
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPTS[(number - 1) % len(PROMPTS)]}],
        "max_tokens": 64,
    }
    if fault is not None:
        body["x_fake"] = {"key": custom_id, **fault}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def demo_lines(count: int) -> list[dict[str, Any]]:
    """`count` chat requests; with four or more, up to two of them fail permanently."""
    failing = PERMANENT_FAILURES[: min(len(PERMANENT_FAILURES), count // 4)]
    positions = {count * (i + 1) // (len(failing) + 1): f for i, f in enumerate(failing)}
    width = max(3, len(str(count)))
    return [_line(n, width, positions.get(n)) for n in range(1, count + 1)]


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")


def _read(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)


def reply_text(line: dict[str, Any]) -> str:
    """The assistant's text in an output line (chat, completions or responses bodies)."""
    body = (line.get("response") or {}).get("body") or {}
    choices = body.get("choices") or []
    if choices:
        choice = choices[0]
        message = choice.get("message") or {}
        return str(message.get("content") or choice.get("text") or "")
    return str(body.get("output_text") or json.dumps(body)[:80])


def samples(output: Path, count: int = 3) -> list[tuple[str, str]]:
    """(custom_id, reply) for the first `count` lines of an output file."""
    found: list[tuple[str, str]] = []
    for line in _read(output):
        found.append((str(line.get("custom_id")), reply_text(line)))
        if len(found) == count:
            break
    return found


def first_error(errors: Path) -> tuple[str, str] | None:
    """(custom_id, "status code: message") of the first line of an error file."""
    for line in _read(errors):
        error = line.get("error") or {}
        status = (line.get("response") or {}).get("status_code")
        prefix = f"HTTP {status} " if status else ""
        return str(line.get("custom_id")), f"{prefix}{error.get('code')}: {error.get('message')}"
    return None
