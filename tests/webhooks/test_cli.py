"""`batchgate webhooks create | list | delete` as a user's shell runs them, against a server."""

from __future__ import annotations

import re
import subprocess

import pytest

from support.procs import BATCHGATE, base_env
from support.stacks import Stack
from webhooks.hooks import Hooks


def webhooks(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BATCHGATE, "webhooks", *args],
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_create_list_delete(stack: Stack, hooks: Hooks) -> None:
    key = stack.new_key()
    receiver = hooks.receiver()
    flags = ["--base-url", stack.base_url, "--api-key", key]
    created = webhooks("create", "--url", receiver.url, "--events", "batch.completed", *flags)
    assert created.returncode == 0, created.stderr
    found = re.fullmatch(
        r"(we_\w+)  (\S+)  batch\.completed\nsigning secret: (whsec_\S+)\n", created.stdout
    )
    assert found, created.stdout
    endpoint_id, url, secret = found.groups()
    assert url == receiver.url
    assert "not shown again" in created.stderr
    # the printed secret is the one deliveries are signed with
    client = stack.client(key)
    assert client.webhooks.test(endpoint_id, event_type="batch.completed").status_code == 200
    assert receiver.snapshot()[-1].unwrap(secret).type == "batch.completed"

    env = {"OPENAI_BASE_URL": stack.base_url, "OPENAI_API_KEY": key}
    listed = webhooks("list", **env)
    assert listed.returncode == 0, listed.stderr
    assert endpoint_id in listed.stdout
    assert receiver.url in listed.stdout
    assert secret.removeprefix("whsec_") not in listed.stdout

    deleted = webhooks("delete", endpoint_id, **env)
    assert (deleted.returncode, deleted.stdout) == (0, f"deleted {endpoint_id}\n")
    assert not client.webhooks.list().data

    refused = webhooks("create", "--url", "ftp://example.com/x", **env)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.startswith("batchgate: HTTP 400: Invalid 'url'"), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
