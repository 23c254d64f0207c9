"""`batchgate submit` as a subprocess against a live `batchgate serve` (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.helpers import ESCAPE, against, line_count, one_line, run, write_jsonl
from support.batches import chat_line
from support.stacks import Stack

#: paths whose behaviour does not depend on the database: one backend is enough
sqlite_only = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def batch_id_in(text: str) -> str:
    match = re.search(r"batch_[0-9a-f]+", text)
    assert match, text
    return match.group(0)


def test_submit_wait_downloads_both_files(stack: Stack, tmp_path: Path) -> None:
    lines = [chat_line(f"ok-{i}") for i in range(28)]
    lines.insert(5, chat_line("bad-1", {"fail_times": -1, "status": 400}))
    lines.insert(17, chat_line("bad-2", {"fail_times": -1, "status": 404}))
    requests = write_jsonl(tmp_path / "requests.jsonl", lines)
    key = stack.new_key()
    out = tmp_path / "results"

    done = run(
        "submit",
        str(requests),
        "--wait",
        "--output",
        str(out),
        "--metadata",
        "job=nightly",
        *against(stack, key),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    batch_id = batch_id_in(done.stdout)
    output, errors = out / f"{batch_id}_output.jsonl", out / f"{batch_id}_errors.jsonl"
    assert line_count(output) == 28
    assert line_count(errors) == 2
    assert "completed" in done.stdout
    assert "30 total, 28 completed, 2 failed" in done.stdout
    assert str(output) in done.stdout
    assert "file-" in done.stdout  # the uploaded file's id
    assert ESCAPE not in done.stdout  # not a terminal: plain lines, no escape codes
    assert stack.client(key).batches.retrieve(batch_id).metadata == {"job": "nightly"}


@sqlite_only
def test_submit_without_wait_prints_the_ids(stack: Stack, tmp_path: Path) -> None:
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line("only")])
    key = stack.new_key()

    done = run("submit", str(requests), *against(stack, key))

    assert done.returncode == 0, done.stderr
    batch = stack.client(key).batches.retrieve(batch_id_in(done.stdout))
    assert batch.endpoint == "/v1/chat/completions"  # read from the file's first line
    assert f"batchgate batches watch {batch.id}" in done.stdout


def test_validation_errors_are_shown_with_line_numbers(stack: Stack, tmp_path: Path) -> None:
    bad = chat_line("two")
    bad["url"] = "/v1/embeddings"  # not the batch's endpoint: fails validation on line 3
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line("zero"), chat_line("one"), bad])

    done = run(
        "submit",
        str(requests),
        "--wait",
        "--output",
        str(tmp_path),
        *against(stack, stack.new_key()),
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed" in done.stdout
    assert "validation errors" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "/v1/embeddings" in line)
    assert re.search(r"\b3\b", row), done.stdout  # the line number, next to the message
    assert "invalid_url" in done.stdout or "url" in row


@sqlite_only
def test_an_upload_the_server_rejects_is_one_line_and_exit_2(stack: Stack, tmp_path: Path) -> None:
    requests = tmp_path / "in.jsonl"
    requests.write_text(f"{write_jsonl(tmp_path / 'x', [chat_line('a')]).read_text()}not json\n")

    done = run("submit", str(requests), *against(stack, stack.new_key()))

    assert done.returncode == 2
    error = one_line(done.stderr)
    assert error.startswith("batchgate: ")
    assert "400" in error
    assert "2" in error  # names the line


@sqlite_only
def test_a_wrong_key_is_one_line_and_exit_2(stack: Stack, tmp_path: Path) -> None:
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line("a")])

    done = run("submit", str(requests), *against(stack, "sk-not-a-key"))

    assert done.returncode == 2
    assert "401" in one_line(done.stderr)
    assert "Traceback" not in done.stderr


def test_without_a_server_it_names_both_settings(tmp_path: Path) -> None:
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line("a")])

    done = run("submit", str(requests))

    assert done.returncode == 2
    error = one_line(done.stderr)
    assert "OPENAI_BASE_URL" in error
    assert "OPENAI_API_KEY" in error


@sqlite_only
def test_the_environment_supplies_the_server(stack: Stack, tmp_path: Path) -> None:
    requests = write_jsonl(tmp_path / "in.jsonl", [chat_line("a"), chat_line("b")])

    done = run(
        "submit",
        str(requests),
        "--wait",
        "--output",
        str(tmp_path),
        OPENAI_BASE_URL=stack.base_url,
        OPENAI_API_KEY=stack.new_key(),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert line_count(tmp_path / f"{batch_id_in(done.stdout)}_output.jsonl") == 2


def test_an_unreadable_first_line_asks_for_the_endpoint(tmp_path: Path) -> None:
    requests = tmp_path / "in.jsonl"
    requests.write_text('\n{"custom_id": "a"}\n')

    done = run("submit", str(requests), "--base-url", "http://127.0.0.1:9/v1", "--api-key", "k")

    assert done.returncode == 2
    assert "in.jsonl:2" in one_line(done.stderr)
    assert "--endpoint" in done.stderr
