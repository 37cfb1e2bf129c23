"""The one command line, `rekap`, with a sub-command for each job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

import asyncpg
import pydantic

from rekap import __version__
from rekap.adapters.postgres.migrations import applied_migrations, load_migrations, migrate
from rekap.config import Settings
from rekap.devstack.check import check_stack
from rekap.devstack.stack import LocalStack
from rekap.errors import RekapError, UnavailableError
from rekap.logs import configure_logging
from rekap.resources import migrations_dir

Command = Callable[[Settings, argparse.Namespace], int]


def say(message: str) -> None:
    print(message, flush=True)


# -- stack ---------------------------------------------------------------------------------------


def stack_up(settings: Settings, _: argparse.Namespace) -> int:
    statuses = LocalStack.from_settings(settings).up(say)
    say("")
    for status in statuses:
        say(status.line())
    say(f"\nData in {settings.stack_dir}; stop with `rekap stack down`.")
    return 0


def stack_down(settings: Settings, _: argparse.Namespace) -> int:
    LocalStack.from_settings(settings).down(say)
    return 0


def stack_status(settings: Settings, _: argparse.Namespace) -> int:
    statuses = LocalStack.from_settings(settings).status()
    for status in statuses:
        say(status.line())
    return 0 if all(s.state != "stopped" for s in statuses) else 3


def stack_reset(settings: Settings, _: argparse.Namespace) -> int:
    LocalStack.from_settings(settings).reset(say)
    return 0


def stack_check(settings: Settings, _: argparse.Namespace) -> int:
    result = asyncio.run(check_stack(settings))
    say(f"kafka      ok  record produced and read back at offset {result.kafka_offset} "
        f"in {result.kafka_round_trip_ms:.0f} ms")  # fmt: skip
    say(f"postgres   ok  PostgreSQL {result.postgres_version}")
    return 0


# -- db ------------------------------------------------------------------------------------------


async def _connect(settings: Settings) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(settings.dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise UnavailableError(
            f"Cannot connect to PostgreSQL at {settings.dsn_for_display}: {error}. "
            "Is the stack up (`rekap stack up`), or DATABASE_URL right?"
        ) from None


def db_migrate(settings: Settings, _: argparse.Namespace) -> int:
    async def run() -> None:
        conn = await _connect(settings)
        try:
            applied = await migrate(conn, load_migrations(migrations_dir()))
        finally:
            await conn.close()
        for migration in applied:
            say(f"applied {migration.filename}")
        say(f"{len(applied)} migration(s) applied; the database is up to date.")

    asyncio.run(run())
    return 0


def db_status(settings: Settings, _: argparse.Namespace) -> int:
    async def run() -> int:
        conn = await _connect(settings)
        try:
            applied = dict(await applied_migrations(conn))
        finally:
            await conn.close()
        pending = 0
        for migration in load_migrations(migrations_dir()):
            done = migration.version in applied
            pending += not done
            say(f"{'applied' if done else 'pending'}  {migration.filename}")
        return 0 if pending == 0 else 3

    return asyncio.run(run())


# -- demo ----------------------------------------------------------------------------------------


def demo(settings: Settings, args: argparse.Namespace) -> int:
    """The README's run command: everything from a clean clone to a working stack."""
    say("== 1. local stack")
    stack_up(settings, args)
    say("\n== 2. database migrations")
    db_migrate(settings, args)
    say("\n== 3. round trip through Kafka and PostgreSQL")
    stack_check(settings, args)
    say(
        "\nThe stack keeps running: `.venv/bin/rekap stack status`, `.venv/bin/rekap stack down`.\n"
        "Not built yet: master data, the tabulator and the election-night simulation (issues 3 to 5)."
    )
    return 0


# -- wiring --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rekap", description="Pilkada vote-count tabulation.")
    parser.add_argument("--version", action="version", version=f"rekap {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def add(group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Command,
            help_text: str) -> argparse.ArgumentParser:  # fmt: skip
        sub = group.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    stack = commands.add_parser("stack", help="the local Kafka broker and PostgreSQL")
    stack_commands = stack.add_subparsers(title="stack commands", required=True, metavar="ACTION")
    add(stack_commands, "up", stack_up, "start the local broker and database (fetching them once)")
    add(stack_commands, "down", stack_down, "stop them, keeping their data")
    add(stack_commands, "status", stack_status, "say what runs where (exit 3 if something is stopped)")
    add(stack_commands, "reset", stack_reset, "stop them and delete their data")
    add(stack_commands, "check", stack_check, "a round trip through the broker and the database")

    db = commands.add_parser("db", help="the PostgreSQL schema")
    db_commands = db.add_subparsers(title="db commands", required=True, metavar="ACTION")
    add(db_commands, "migrate", db_migrate, "apply the SQL migrations not yet applied")
    add(db_commands, "status", db_status, "list applied and pending migrations (exit 3 if pending)")

    add(commands, "demo", demo, "start the stack and show that it works, end to end")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        configure_logging(settings)
        handler: Command = args.handler
        return handler(settings, args)
    except RekapError as error:
        print(f"rekap: {error}", file=sys.stderr)
        return 1
    except pydantic.ValidationError as error:
        print(f"rekap: a setting in the environment is wrong:\n{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
