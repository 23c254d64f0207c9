"""A webhook receiver for tests: a loopback HTTP server that records every POST to its path.

It answers 500 to the first `fail_first` deliveries, then 200 (`fail_first` can be changed
while it runs), and can hold a request open until released, to catch a sender mid-send. Each
receiver listens on a random path of its own, so a delivery meant for an earlier test's
receiver that happened to have the same port is answered 404 and not recorded.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openai import OpenAI
from openai.types.webhooks import UnwrapWebhookEvent


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    #: what the receiver answered
    status: int

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]

    def unwrap(self, secret: str) -> UnwrapWebhookEvent:
        """Verify the signature and parse the event, as a receiver would with the SDK."""
        return OpenAI(api_key="unused", webhook_secret=secret).webhooks.unwrap(
            self.body, self.headers
        )


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        #: while set, requests wait here before being answered (until released)
        self.hold = threading.Event()
        self.release = threading.Event()
        self.path = f"/hooks/{secrets.token_hex(8)}"
        self.received: list[Received] = []
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != receiver.path:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = receiver._answer(self)
                with receiver._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        # a short poll interval: shutdown() waits for it, once per receiver
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _answer(self, _: BaseHTTPRequestHandler) -> int:
        self.arrived.set()
        if self.hold.is_set():
            self.release.wait(30)
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500
        return 200

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def delivered(self) -> list[Received]:
        return [r for r in self.snapshot() if 200 <= r.status < 300]

    def wait_until(
        self, done: Callable[[list[Received]], bool], timeout: float = 30.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.snapshot()
            if done(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver did not get there in {timeout}s: {got}")
            time.sleep(0.05)

    def wait_delivered(self, count: int = 1, timeout: float = 30.0) -> list[Received]:
        self.wait_until(lambda got: sum(200 <= r.status < 300 for r in got) >= count, timeout)
        return self.delivered()
