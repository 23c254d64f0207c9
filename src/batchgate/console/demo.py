"""`batchgate demo`: a fake model and `batchgate serve` on free ports in a throw-away data
directory, one batch through `submit --wait`, a look at the results, and a clean stop."""

from __future__ import annotations

import secrets
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from rich.console import Console

from batchgate.console import demo_batch, terminal
from batchgate.console.children import Children, clean_env, free_port
from batchgate.console.connection import Connection
from batchgate.console.errors import api_errors
from batchgate.console.submit import Submission, submit
from batchgate.console.watch import EXIT_INTERRUPTED, Finished

FAKE_LATENCY_MS = 200
FAKE_JITTER_MS = 100
FAKE_FAIL_RATE = 0.03
#: requests in flight to the fake model: low enough that the progress bar has time to move
DEMO_CONCURRENCY = 8

SNIPPET = """\
from openai import OpenAI

client = OpenAI(base_url="{base_url}", api_key="{key}")
for batch in client.batches.list(limit=5):
    print(batch.id, batch.status, batch.request_counts)"""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP take the same clean-up path as Ctrl-C."""
    signals = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, _interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Demo:
    lines: int = 200
    output_dir: Path = Path("batchgate-demo")
    keep_running: bool = False

    def run(self) -> int:
        console = terminal.out()
        try:
            with _stop_signals_interrupt():
                return self._run(console)
        except KeyboardInterrupt:
            console.print("\ndemo interrupted; the server and the fake model are stopped")
            return EXIT_INTERRUPTED

    def _run(self, console: Console) -> int:
        output = self.output_dir
        output.mkdir(parents=True, exist_ok=True)
        key = f"sk-demo-{secrets.token_hex(8)}"
        with tempfile.TemporaryDirectory(prefix="batchgate-demo-") as data, Children() as children:
            data_dir = Path(data)
            fake_port, serve_port = free_port(), free_port()
            console.print(
                f"[bold]1.[/] starting a fake model server on port {fake_port} "
                f"({FAKE_LATENCY_MS} ms per request, {FAKE_FAIL_RATE:.0%} answered with 503)"
            )
            children.start(
                "fake-upstream",
                [
                    "fake-upstream",
                    *("--port", str(fake_port), "--latency-ms", str(FAKE_LATENCY_MS)),
                    *("--jitter-ms", str(FAKE_JITTER_MS), "--fail-rate", str(FAKE_FAIL_RATE)),
                ],
                clean_env(),
                data_dir,
                output / "fake-upstream.log",
                f"http://127.0.0.1:{fake_port}/_fake/stats",
            )
            console.print(
                f"[bold]2.[/] starting batchgate serve on port {serve_port} "
                f"(SQLite and files in {data_dir})"
            )
            env = clean_env(
                BATCHGATE_DATA_DIR=str(data_dir),
                BATCHGATE_API_KEYS=key,
                BATCHGATE_UPSTREAM_URL=f"http://127.0.0.1:{fake_port}/v1",
                BATCHGATE_UPSTREAM_MAX_CONCURRENCY=str(DEMO_CONCURRENCY),
                BATCHGATE_RETRY_BASE_SECONDS="0.2",
                BATCHGATE_RETRY_MAX_SECONDS="1",
            )
            children.start(
                "batchgate serve",
                ["serve", "--port", str(serve_port)],
                env,
                data_dir,
                output / "serve.log",
                f"http://127.0.0.1:{serve_port}/readyz",
            )
            conn = Connection(f"http://127.0.0.1:{serve_port}/v1", key)
            finished = self._submit(console, conn)
            self._fake_stats(console, fake_port)
            if self.keep_running:
                self._serve_until_interrupted(console, conn, children)
            else:
                console.print("[bold]5.[/] stopping the server and the fake model")
        self._goodbye(console, finished)
        return finished.exit_code

    def _submit(self, console: Console, conn: Connection) -> Finished:
        requests = self.output_dir / "requests.jsonl"
        demo_batch.write_jsonl(requests, demo_batch.demo_lines(self.lines))
        console.print(
            f"[bold]3.[/] submitting {requests} ({self.lines} chat requests) "
            "as `batchgate submit --wait` would"
        )
        job = Submission(
            path=requests, metadata={"source": "batchgate demo"}, output_dir=self.output_dir
        )
        with api_errors(conn.base_url):
            finished = submit(conn, job, console, wait_for_it=True, resumable=False)
        assert finished is not None
        console.print("[bold]4.[/] a look at the results")
        self._show_results(console, finished)
        return finished

    def _show_results(self, console: Console, finished: Finished) -> None:
        for item in finished.downloads:
            if item.kind == "output":
                console.print("  sample replies (custom_id → reply):")
                for custom_id, reply in demo_batch.samples(item.path):
                    console.print(f"    {custom_id} → {reply}", markup=False)
            else:
                error = demo_batch.first_error(item.path)
                if error is not None:
                    console.print("  an error line (custom_id → error):")
                    console.print(f"    {error[0]} → {error[1]}", markup=False)

    def _fake_stats(self, console: Console, fake_port: int) -> None:
        """How many calls the fake model saw: the 503s show that batchgate retried them."""
        try:
            stats = httpx.get(f"http://127.0.0.1:{fake_port}/_fake/stats", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return
        by_status = {str(status): count for status, count in stats.get("by_status", {}).items()}
        parts = ", ".join(f"{count}x {status}" for status, count in sorted(by_status.items()))
        retried = by_status.get("503", 0)
        note = f"; batchgate retried each of the {retried} 503s" if retried else ""
        console.print(f"  the fake model answered {stats.get('total', 0)} calls ({parts}){note}")

    def _serve_until_interrupted(
        self, console: Console, conn: Connection, children: Children
    ) -> None:
        console.print(
            f"\n[bold]The server keeps running[/] at {conn.base_url} with the API key "
            f"{conn.api_key}. Try:\n"
        )
        console.print(
            f"  export OPENAI_BASE_URL={conn.base_url} OPENAI_API_KEY={conn.api_key}\n"
            f"  batchgate batches list\n"
            f"  batchgate submit {self.output_dir / 'requests.jsonl'} --wait\n",
            markup=False,
        )
        console.print(SNIPPET.format(base_url=conn.base_url, key=conn.api_key), markup=False)
        console.print("\nPress Ctrl-C to stop the server and the fake model.")
        try:
            while True:
                children.check_alive()
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("\nstopping the server and the fake model")

    def _goodbye(self, console: Console, finished: Finished) -> None:
        console.print(
            f"\nDone. The input, the results and both logs are in [bold]{self.output_dir}/[/]"
        )
        if finished.batch.status == "completed":
            console.print(
                "Next: `./dev serve` (or `batchgate serve` with BATCHGATE_UPSTREAM_URL set to "
                "your model server), then `batchgate submit FILE.jsonl --wait`.",
                markup=False,
            )
