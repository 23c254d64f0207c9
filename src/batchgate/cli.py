"""The `batchgate` command: serve, worker, migrate, keys, fake-upstream; submit, batches, demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from batchgate import __version__
from batchgate.console.parser import register as register_console_commands
from batchgate.errors import ConfigurationError
from batchgate.observability import logs
from batchgate.settings import Settings, load_settings
from batchgate.webhooks.commands import add_parser as add_webhook_commands


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from batchgate.app import create_app
    from batchgate.migrate import prepare_database

    # Configuration problems surface here as one clear line, not as a lifespan traceback.
    _run(prepare_database(settings.resolved_database_url, migrate=settings.should_migrate_on_start))
    if settings.embedded:
        from batchgate.engine.runner import load_configured_router

        load_configured_router(settings)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def _worker(_: argparse.Namespace, settings: Settings) -> None:
    from batchgate.worker import run_worker

    _run(run_worker(settings))


def _migrate(_: argparse.Namespace, settings: Settings) -> None:
    from batchgate.migrate import upgrade

    upgrade(settings.resolved_database_url)
    print("database is at the latest schema")


async def _with_session(
    settings: Settings, work: Callable[[Any], Coroutine[Any, Any, None]]
) -> None:
    from batchgate.db.session import session_scope
    from batchgate.migrate import upgrade_async
    from batchgate.runtime import build_database

    await upgrade_async(settings.resolved_database_url)
    engine, sessionmaker = build_database(settings)
    try:
        async with session_scope(sessionmaker) as session:
            await work(session)
    finally:
        await engine.dispose()


def _keys(args: argparse.Namespace, settings: Settings) -> None:
    from batchgate.auth import service

    async def create(session: Any) -> None:
        created = await service.create_key(session, args.name)
        print(created.key)
        print(
            f"key id {created.key_id}, tenant {created.tenant_id}; "
            "store the key now, it is not shown again",
            file=sys.stderr,
        )

    async def list_keys(session: Any) -> None:
        rows = await service.list_keys(session)
        print(f"{'KEY ID':<30} {'PREFIX':<12} {'NAME':<20} {'TENANT':<40} STATUS")
        for key, tenant in rows:
            status = "revoked" if key.revoked_at else "active"
            print(f"{key.id:<30} {key.key_prefix:<12} {key.name[:20]:<20} {tenant.id:<40} {status}")

    async def revoke(session: Any) -> None:
        if not await service.revoke_key(session, args.key):
            raise ConfigurationError(f"no active key with id or prefix {args.key!r}")
        print(f"revoked {args.key}")

    actions = {"create": create, "list": list_keys, "revoke": revoke}
    _run(_with_session(settings, actions[args.keys_command]))


def _fake_upstream(args: argparse.Namespace, _: Settings) -> None:
    from batchgate.fake_upstream import run

    run(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        fail_rate=args.fail_rate,
        fail_status=args.fail_status,
    )


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop

        uvloop.run(coroutine)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(coroutine)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchgate", description="A self-hosted, OpenAI-compatible Batch API."
    )
    parser.add_argument("--version", action="version", version=f"batchgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the API (and, without BATCHGATE_REDIS_URL, the jobs)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    commands.add_parser("worker", help="run a worker (needs BATCHGATE_REDIS_URL)").set_defaults(
        handler=_worker
    )
    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(
        handler=_migrate
    )

    keys = commands.add_parser("keys", help="manage API keys (one tenant per created key)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a tenant and print its new API key")
    create.add_argument("--name", required=True)
    key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    keys.set_defaults(handler=_keys)

    fake = commands.add_parser(
        "fake-upstream", help="an OpenAI-compatible fake upstream for demos and tests"
    )
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8001)
    fake.add_argument("--latency-ms", type=float, default=20.0)
    fake.add_argument("--jitter-ms", type=float, default=0.0)
    fake.add_argument("--fail-rate", type=float, default=0.0, help="fraction of requests that fail")
    fake.add_argument("--fail-status", type=int, default=503)
    fake.set_defaults(handler=_fake_upstream)

    # the client side: submit, batches list/show/cancel/watch, demo
    register_console_commands(commands)
    add_webhook_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logs.configure(settings.log_level, settings.log_json)
        args.handler(args, settings)
    except ConfigurationError as exc:
        print(f"batchgate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
