"""The client subcommands of the CLI: `submit`, `batches …` and `demo`.

`batchgate.cli` calls `register`; handlers import their modules lazily so the server commands
do not pay for rich and the SDK, and report `ConsoleError`s as one line with an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


#: loggers of the HTTP client stack, which log every request at INFO
_CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore", "openai")


def _guarded(action: Callable[[], int | None]) -> None:
    """Run a console command: quiet client logs, `ConsoleError` -> one line and its exit code."""
    from batchgate.console.errors import ConsoleError

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in _CLIENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        code = action()
    except ConsoleError as exc:
        print(f"batchgate: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:  # an unreadable input file, an unwritable --output directory
        print(f"batchgate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if code:
        raise SystemExit(code)


def _submit(args: argparse.Namespace, _: Any) -> None:
    from batchgate.console import terminal
    from batchgate.console.connection import resolve
    from batchgate.console.errors import api_errors
    from batchgate.console.inputs import parse_metadata
    from batchgate.console.submit import Submission, submit

    def action() -> int:
        conn = resolve(args.base_url, args.api_key)
        job = Submission(
            path=args.file,
            endpoint=args.endpoint,
            window=args.window,
            metadata=parse_metadata(args.metadata),
            output_dir=args.output,
        )
        with api_errors(conn.base_url):
            finished = submit(conn, job, terminal.out(), wait_for_it=args.wait)
        return finished.exit_code if finished else 0

    _guarded(action)


def _batches(args: argparse.Namespace, _: Any) -> None:
    from batchgate.console import batches, terminal
    from batchgate.console.connection import resolve
    from batchgate.console.errors import api_errors

    def action() -> int | None:
        conn = resolve(args.base_url, args.api_key)
        console = terminal.out()
        with api_errors(conn.base_url):
            if args.batches_command == "list":
                batches.list_batches(conn, console, args.limit)
            elif args.batches_command == "show":
                batches.show(conn, console, args.batch_id)
            elif args.batches_command == "cancel":
                batches.cancel(conn, console, args.batch_id)
            else:
                return batches.watch(conn, console, args.batch_id, args.output)
        return None

    _guarded(action)


def _demo(args: argparse.Namespace, _: Any) -> None:
    from batchgate.console.demo import Demo

    _guarded(Demo(lines=args.lines, output_dir=args.output, keep_running=args.keep_running).run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _connection_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--base-url", help="the server's /v1 URL (default: $OPENAI_BASE_URL)", metavar="URL"
    )
    flags.add_argument("--api-key", help="an API key (default: $OPENAI_API_KEY)", metavar="KEY")
    return flags


def _output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where the output and error files go (default: the current directory)",
    )


def register(commands: Commands) -> None:
    """Add `submit`, `batches` and `demo` to the CLI's subcommands."""
    connection = _connection_flags()

    submit = commands.add_parser(
        "submit", parents=[connection], help="upload a JSONL file and create a batch"
    )
    submit.add_argument("file", type=Path, metavar="FILE.jsonl")
    submit.add_argument("--endpoint", help="default: the url of the file's first line")
    submit.add_argument("--window", default="24h", help="completion window (default: 24h)")
    submit.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    submit.add_argument(
        "--wait", action="store_true", help="show progress, then download the results"
    )
    _output_flag(submit)
    submit.set_defaults(handler=_submit)

    batches = commands.add_parser("batches", help="list, show, cancel or watch batches")
    actions = batches.add_subparsers(dest="batches_command", required=True)
    listing = actions.add_parser("list", parents=[connection], help="the newest batches")
    listing.add_argument("--limit", type=_positive, default=20)
    for name, text in (("show", "every field of a batch"), ("cancel", "cancel a batch")):
        actions.add_parser(name, parents=[connection], help=text).add_argument("batch_id")
    watch = actions.add_parser(
        "watch", parents=[connection], help="wait for a batch, then download its results"
    )
    watch.add_argument("batch_id")
    _output_flag(watch)
    batches.set_defaults(handler=_batches)

    demo = commands.add_parser(
        "demo", help="run a server and a fake model locally and push a batch through them"
    )
    demo.add_argument("--lines", type=_positive, default=200, help="requests in the demo batch")
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("batchgate-demo"),
        metavar="DIR",
        help="where the demo's input, results and logs go (default: ./batchgate-demo)",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the server up afterwards, until Ctrl-C",
    )
    demo.set_defaults(handler=_demo)
