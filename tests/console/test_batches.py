"""`batchgate batches list | show | cancel | watch` as subprocesses against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.helpers import ESCAPE, against, line_count, one_line, run
from support.batches import chat_line, submit, wait_for
from support.procs import free_port
from support.stacks import Stack

#: error paths do not depend on the database: one backend is enough
sqlite_only = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@sqlite_only
def test_list_show_cancel_watch(stack: Stack, tmp_path: Path) -> None:
    key = stack.new_key()
    client = stack.client(key)
    flags = against(stack, key)
    # ~25 s of work at the stack's concurrency: still running when the cancel arrives
    slow = submit(client, [chat_line(f"s{i}", {"latency_ms": 1500}) for i in range(1000)])
    quick = submit(client, [chat_line("q1"), chat_line("q2")])

    cancelled = run("batches", "cancel", slow.id, *flags)
    assert cancelled.returncode == 0, cancelled.stderr
    assert slow.id in cancelled.stdout
    assert "cancelling" in cancelled.stdout or "cancelled" in cancelled.stdout
    quick = wait_for(client, quick.id)
    assert quick.status == "completed"

    listed = run("batches", "list", *flags)
    assert listed.returncode == 0, listed.stderr
    assert slow.id in listed.stdout
    quick_row = next(line for line in listed.stdout.splitlines() if quick.id in line)
    assert "completed" in quick_row
    assert "2/2" in quick_row
    assert "/v1/chat/completions" in quick_row
    assert ESCAPE not in listed.stdout

    shown = run("batches", "show", quick.id, *flags)
    assert shown.returncode == 0, shown.stderr
    for expected in (quick.id, "completed", "2 total, 2 completed, 0 failed", quick.input_file_id):
        assert expected in shown.stdout
    assert str(quick.output_file_id) in shown.stdout
    assert " ago)" in shown.stdout  # timestamps read as times, not unix seconds

    assert wait_for(client, slow.id).status == "cancelled"
    watched = run("batches", "watch", slow.id, "--output", str(tmp_path), *flags)
    assert watched.returncode == 1  # a cancelled batch is not a success
    assert "cancelled" in watched.stdout
    assert line_count(tmp_path / f"{slow.id}_errors.jsonl") >= 1


@sqlite_only
def test_an_unknown_batch_is_one_line_and_exit_2(stack: Stack) -> None:
    flags = against(stack, stack.new_key())
    for action in ("show", "watch"):  # watch must not mistake a 404 for a passing outage
        done = run("batches", action, "batch_doesnotexist", *flags)

        assert done.returncode == 2, action
        error = one_line(done.stderr)
        assert error.startswith("batchgate: not found (HTTP 404)")
        assert "batch_doesnotexist" in error
        assert done.stdout == ""


@sqlite_only
def test_a_wrong_key_is_one_line_and_exit_2(stack: Stack) -> None:
    done = run("batches", "list", *against(stack, "sk-wrong"))

    assert done.returncode == 2
    assert "the server rejected the API key (HTTP 401)" in one_line(done.stderr)


def test_no_server_is_one_line_and_exit_2() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"

    done = run("batches", "list", "--base-url", url, "--api-key", "sk-x")

    assert done.returncode == 2
    error = one_line(done.stderr)
    assert f"cannot reach {url}" in error
    assert "Traceback" not in done.stderr


@sqlite_only
def test_list_of_a_new_tenant_says_so(stack: Stack) -> None:
    done = run("batches", "list", "--limit", "5", *against(stack, stack.new_key()))

    assert done.returncode == 0, done.stderr
    assert "no batches yet" in done.stdout
