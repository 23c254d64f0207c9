"""`batchgate keys create / list / revoke` against a live server's database."""

from __future__ import annotations

import subprocess

import openai
import pytest

from support.procs import BATCHGATE, base_env
from support.stacks import Stack


def keys(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(
        BATCHGATE_DATABASE_URL=stack.database_url, BATCHGATE_DATA_DIR=stack.server.log.parent
    )
    return subprocess.run(
        [*BATCHGATE, "keys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_create_list_revoke(stack: Stack) -> None:
    created = keys(stack, "create", "--name", "team-search")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("bg-")
    assert len(key) > 40

    client = stack.client(key)
    assert client.files.list().data == []  # a new tenant sees nothing of anyone else's

    listed = keys(stack, "list")
    assert listed.returncode == 0, listed.stderr
    assert "team-search" in listed.stdout
    assert key not in listed.stdout  # keys are stored hashed and never shown again
    assert key[:10] in listed.stdout  # the prefix tells them apart

    revoked = keys(stack, "revoke", key[:10])
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(openai.AuthenticationError):
        client.files.list()
    again = keys(stack, "revoke", key[:10])
    assert again.returncode == 2
    assert "no active key" in again.stderr
