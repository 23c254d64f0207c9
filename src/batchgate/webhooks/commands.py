"""`batchgate webhooks create | list | delete | rotate-secret`: endpoints, through the HTTP API.

Like `batchgate submit`, these talk to a running server with the `openai` SDK, reading
`--base-url` / `--api-key` or `OPENAI_BASE_URL` / `OPENAI_API_KEY`. `batchgate.cli` calls
`add_parser`; the SDK is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from batchgate.webhooks.event_types import BATCH_EVENT_TYPES

if TYPE_CHECKING:
    from openai import OpenAI

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

_EXIT_ERROR = 2
_CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore", "openai")


class _Failed(Exception):
    """Reported as one line on stderr, exit status 2."""


def _client(args: argparse.Namespace) -> OpenAI:
    from openai import OpenAI

    url = args.base_url or os.environ.get("OPENAI_BASE_URL")
    key = args.api_key or os.environ.get("OPENAI_API_KEY")
    if not url or not key:
        raise _Failed(
            "no server given: pass --base-url and --api-key (or set OPENAI_BASE_URL and "
            "OPENAI_API_KEY), e.g. OPENAI_BASE_URL=http://127.0.0.1:8000/v1"
        )
    return OpenAI(base_url=url.rstrip("/"), api_key=key, max_retries=2, timeout=60)


@contextmanager
def _api_errors() -> Iterator[None]:
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        body: Any = exc.body
        message = body.get("message") if isinstance(body, dict) else None
        raise _Failed(f"HTTP {exc.status_code}: {message or exc.response.text[:300]}") from None
    except openai.APIConnectionError as exc:
        raise _Failed(f"cannot reach the server ({type(exc).__name__}): is it running?") from None


def _events(text: str | None) -> list[Any]:
    if text is None:
        return list(BATCH_EVENT_TYPES)
    events = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [e for e in events if e not in BATCH_EVENT_TYPES]
    if unknown or not events:
        raise _Failed(
            f"--events: {', '.join(unknown) or 'none given'}; choose from "
            f"{','.join(BATCH_EVENT_TYPES)}"
        )
    return events


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def _create(args: argparse.Namespace) -> None:
    events = _events(args.events)
    with _api_errors():
        endpoint = _client(args).webhooks.create(url=args.url, event_types=events, name=args.name)
    print(f"{endpoint.id}  {endpoint.url}  {','.join(endpoint.event_types)}")
    print(f"signing secret: {endpoint.signing_secret}")
    print(
        "store the signing secret now: it is not shown again "
        f"(`batchgate webhooks rotate-secret {endpoint.id}` makes a new one)",
        file=sys.stderr,
    )


def _list(args: argparse.Namespace) -> None:
    with _api_errors():
        endpoints = list(_client(args).webhooks.list())
    if not endpoints:
        print("no webhook endpoints")
        return
    print(f"{'ID':<36} {'CREATED':<17} {'NAME':<16} {'EVENTS':<60} URL")
    for e in endpoints:
        events = ",".join(e.event_types)
        print(f"{e.id:<36} {_when(e.created_at):<17} {e.name[:16]:<16} {events:<60} {e.url}")


def _delete(args: argparse.Namespace) -> None:
    with _api_errors():
        _client(args).webhooks.delete(args.endpoint_id)
    print(f"deleted {args.endpoint_id}")


def _rotate(args: argparse.Namespace) -> None:
    with _api_errors():
        endpoint = _client(args).webhooks.rotate_secret(
            args.endpoint_id, keep_old_secret_active_for_24_hours=args.keep_old
        )
    print(f"signing secret: {endpoint.signing_secret}")


_ACTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "create": _create,
    "list": _list,
    "delete": _delete,
    "rotate-secret": _rotate,
}


def _run(args: argparse.Namespace, _settings: object) -> None:
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in _CLIENT_LOGGERS:  # they log every request at INFO
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        _ACTIONS[args.webhooks_command](args)
    except _Failed as exc:
        print(f"batchgate: {exc}", file=sys.stderr)
        raise SystemExit(_EXIT_ERROR) from None


def add_parser(commands: Commands) -> None:
    """Add `webhooks …` to the CLI's subcommands."""
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--base-url", metavar="URL", help="default: $OPENAI_BASE_URL")
    connection.add_argument("--api-key", metavar="KEY", help="default: $OPENAI_API_KEY")

    webhooks = commands.add_parser("webhooks", help="manage webhook endpoints for batch events")
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True)
    create = actions.add_parser(
        "create", parents=[connection], help="register a URL; prints its signing secret once"
    )
    create.add_argument("--url", required=True, help="http(s) URL that receives the events")
    create.add_argument(
        "--events",
        metavar="TYPES",
        help=f"comma-separated, from {','.join(BATCH_EVENT_TYPES)} (default: all)",
    )
    create.add_argument("--name", default="", help="a label for the endpoint")
    actions.add_parser("list", parents=[connection], help="this tenant's endpoints")
    delete = actions.add_parser("delete", parents=[connection], help="remove an endpoint")
    delete.add_argument("endpoint_id", metavar="ID")
    rotate = actions.add_parser(
        "rotate-secret", parents=[connection], help="a new signing secret, printed once"
    )
    rotate.add_argument("endpoint_id", metavar="ID")
    rotate.add_argument(
        "--keep-old",
        action="store_true",
        help="keep signing with the old secret too, for 24 hours",
    )
    webhooks.set_defaults(handler=_run)
