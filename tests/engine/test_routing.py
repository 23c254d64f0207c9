"""Model routing end to end: `batchgate serve` with a routes file and no default upstream.

Aliases, globs with a model rewrite, the `:batch` suffix and an upstream whose key comes from
`api_key_env` are checked by what the upstreams received (the fake echoes `model`); a model no
route serves fails validation; a bad routes file stops `batchgate serve` at start."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from support.batch_files import Item, check_result_files, create, line_numbers
from support.batches import chat_line, wait_for
from support.procs import BATCHGATE, FakeUpstream, Server, base_env, free_port
from support.stacks import TEST_SETTINGS

KEY_ENV = "ROUTING_TEST_UPSTREAM_KEY"


class KeyedUpstream:
    """A minimal OpenAI-ish upstream that records the Authorization header it is sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "model": body.get("model"),
                        "user": body.get("user"),
                    }
                )
                answer = json.dumps(
                    {
                        "id": f"chatcmpl-{secrets.token_hex(8)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "ok"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-request-id", f"req_{secrets.token_hex(16)}")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> KeyedUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def routed_env(workdir: Path, routes: str, keys: list[str], **extra: str) -> dict[str, str]:
    """A serve environment with a routes file and, on purpose, no BATCHGATE_UPSTREAM_URL."""
    routes_file = workdir / "routes.yaml"
    routes_file.write_text(routes)
    return base_env(
        BATCHGATE_DATA_DIR=workdir / "data",
        BATCHGATE_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'batchgate.db'}",
        BATCHGATE_API_KEYS=",".join(keys),
        BATCHGATE_ROUTES_FILE=routes_file,
        **TEST_SETTINGS,
        **extra,
    )


ROUTES = """\
upstreams:
  fake:
    url: {fake}
  keyed:
    url: {keyed}
    api_key_env: {key_env}
aliases:
  fast: real-model
routes:
  - match: real-model
    upstream: fake
  - match: "llama-*"
    upstream: fake
    model: served-llama
  - match: private-model
    upstream: keyed
"""


class Routed:
    def __init__(self, server: Server, keyed: KeyedUpstream, secret: str, key: str) -> None:
        self.server, self.keyed, self.secret, self.key = server, keyed, secret, key

    def client(self) -> OpenAI:
        return OpenAI(base_url=self.server.base_url, api_key=self.key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream) -> Iterator[Routed]:
    workdir = tmp_path_factory.mktemp("routed")
    key, secret = f"sk-test-{secrets.token_hex(12)}", f"upstream-secret-{secrets.token_hex(8)}"
    with KeyedUpstream() as keyed:
        routes = ROUTES.format(fake=upstream.url, keyed=keyed.url, key_env=KEY_ENV)
        server = Server(workdir, routed_env(workdir, routes, [key], **{KEY_ENV: secret}))
        server.start()
        try:
            yield Routed(server, keyed, secret, key)
        finally:
            server.stop()


def run_batch(client: OpenAI, model: str, prefix: str, n: int = 3) -> tuple[Any, list[Item]]:
    items: list[Item] = [None]
    items += [chat_line(f"{prefix}-{i}", model=model) for i in range(n)]
    done = wait_for(client, create(client, items).id, timeout=30)
    return done, items


@pytest.mark.parametrize(
    ("requested", "served"),
    [
        ("real-model", "real-model"),
        ("fast", "real-model"),  # alias
        ("llama-3-8b", "served-llama"),  # glob, with a model rewrite
        ("real-model:batch", "real-model"),  # suffix stripped
        ("fast:batch", "real-model"),  # suffix stripped, then the alias
        ("llama-3-8b:batch", "served-llama"),
    ],
)
def test_model_is_routed_and_rewritten(
    routed: Routed, upstream: FakeUpstream, requested: str, served: str
) -> None:
    client = routed.client()
    prefix = f"route-{secrets.token_hex(3)}"
    done, items = run_batch(client, requested, prefix)
    assert done.status == "completed", done
    assert done.model == requested  # the Batch object reports the model the client asked for
    got = check_result_files(client, done, line_numbers(items))
    assert len(got.output) == 3
    assert not got.errors
    assert {line["response"]["body"]["model"] for line in got.output} == {served}
    by_key = upstream.stats()["by_key"]
    assert {k: v for k, v in by_key.items() if k.startswith(prefix)} == {
        f"{prefix}-{i}": 1 for i in range(3)
    }
    assert not [s for s in routed.keyed.seen if str(s["user"]).startswith(prefix)]


def test_upstream_key_comes_from_api_key_env(routed: Routed, upstream: FakeUpstream) -> None:
    client = routed.client()
    prefix = f"keyed-{secrets.token_hex(3)}"
    done, items = run_batch(client, "private-model", prefix)
    assert done.status == "completed", done
    got = check_result_files(client, done, line_numbers(items))
    assert {line["response"]["body"]["model"] for line in got.output} == {"private-model"}
    seen = [s for s in routed.keyed.seen if str(s["user"]).startswith(prefix)]
    assert sorted(s["user"] for s in seen) == [f"{prefix}-{i}" for i in range(3)]
    assert {s["authorization"] for s in seen} == {f"Bearer {routed.secret}"}
    assert {s["path"] for s in seen} == {"/v1/chat/completions"}
    assert not [k for k in upstream.stats()["by_key"] if k.startswith(prefix)]


@pytest.mark.parametrize("model", ["unrouted-model", "llama", "Llama-3", "nothing:batch", "fast2"])
def test_unrouted_model_fails_validation(routed: Routed, model: str) -> None:
    client = routed.client()
    items: list[Item] = [None, chat_line("a", model=model), None, chat_line("b", model=model)]
    done = wait_for(client, create(client, items).id, timeout=30)
    assert done.status == "failed", done
    assert done.failed_at is not None
    assert done.output_file_id is None
    assert done.error_file_id is None
    assert done.request_counts is not None
    assert done.request_counts.total == 0
    assert done.errors is not None
    assert done.errors.data is not None
    assert [(e.code, e.param, e.line) for e in done.errors.data] == [
        ("model_not_found", "body.model", 2)
    ]
    assert model in (done.errors.data[0].message or "")


# --- bad routes files ---------------------------------------------------------------------------

BAD_ROUTES = {
    "unknown-key": (
        "upstreams:\n  fake:\n    url: http://127.0.0.1:9/v1\n    api_key: sk-x\n"
        "routes:\n  - match: m\n    upstream: fake\n",
        {},
        "upstreams.fake: unknown key 'api_key'",
    ),
    "unknown-top-level-key": (
        "upstreams:\n  fake:\n    url: http://127.0.0.1:9/v1\n"
        "route:\n  - match: m\n    upstream: fake\n",
        {},
        "top level: unknown key 'route'",
    ),
    "unknown-upstream": (
        "upstreams:\n  fake:\n    url: http://127.0.0.1:9/v1\n"
        "routes:\n  - match: m\n    upstream: fake\n  - match: n\n    upstream: nowhere\n",
        {},
        "routes[1].upstream: unknown upstream 'nowhere' (defined: fake)",
    ),
    "missing-env-var": (
        f"upstreams:\n  fake:\n    url: http://127.0.0.1:9/v1\n    api_key_env: {KEY_ENV}\n",
        {},
        f"upstreams.fake.api_key_env: environment variable {KEY_ENV} is not set or empty",
    ),
    "empty-env-var": (
        f"upstreams:\n  fake:\n    url: http://127.0.0.1:9/v1\n    api_key_env: {KEY_ENV}\n",
        {KEY_ENV: ""},
        f"upstreams.fake.api_key_env: environment variable {KEY_ENV} is not set or empty",
    ),
}


def serve_with(workdir: Path, routes: str, extra: dict[str, str]) -> tuple[int, str, float]:
    env = routed_env(workdir, routes, [f"sk-test-{secrets.token_hex(12)}"], **extra)
    started = time.monotonic()
    done = subprocess.run(
        [*BATCHGATE, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.mark.parametrize("case", list(BAD_ROUTES))
def test_bad_routes_file_stops_serve(tmp_path: Path, case: str) -> None:
    routes, extra, problem = BAD_ROUTES[case]
    code, output, took = serve_with(tmp_path, routes, extra)
    assert code == 2, output
    assert took < 20, took
    # one clear line naming the file and the problem, no traceback, and nothing served
    last = output.strip().splitlines()[-1]
    assert last == f"batchgate: routes file {tmp_path / 'routes.yaml'}: {problem}", output
    assert "Traceback" not in output
    assert "Uvicorn running" not in output
    assert "startup complete" not in output
