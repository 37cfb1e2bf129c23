"""`rekap stack ...`: the local Kafka broker and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio

from rekap.cli.common import LOCAL_STACK, SubParsers, add_command, say
from rekap.config import Settings
from rekap.devstack.check import check_stack
from rekap.devstack.secrets import LOCAL_LOGINS, StackSecrets, stack_settings
from rekap.devstack.shape import StackShape
from rekap.devstack.stack import LocalStack
from rekap.errors import ConfigError, StackError


def add_shape_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--brokers",
        type=int,
        choices=(1, 3),
        help="a new stack's Kafka: 1 broker (the default) or a cluster of 3 (each topic on 3, 2 in sync)",
    )
    command.add_argument(
        "--standby",
        action="store_true",
        help="a new stack's PostgreSQL with a synchronous streaming standby (a commit is on two disks)",
    )


def up(settings: Settings, args: argparse.Namespace) -> int:
    wanted = None
    if args.brokers is not None or args.standby:
        made = StackShape.load(settings.stack_dir)
        brokers = args.brokers if args.brokers is not None else (made.brokers if made else 1)
        wanted = StackShape.wanted(brokers, args.standby or bool(made and made.replicated))
    stack = LocalStack.from_settings(settings, wanted)
    statuses = stack.up(say, tabulator=getattr(args, "tabulator", False))
    say()
    for status in statuses:
        say(status.line())
    say(f"\nData in {settings.stack_dir}; stop with `rekap stack down`.")
    if settings.uses_local_postgres:
        say('KPU\'s read-only login: `rekap stack url` prints its URL (psql "$(rekap stack url)").')
    return 0


def promote(settings: Settings, _: argparse.Namespace) -> int:
    LocalStack.from_settings(settings).promote(say)
    return 0


def standby(settings: Settings, _: argparse.Namespace) -> int:
    LocalStack.from_settings(settings).make_standby_again(say)
    return 0


def down(settings: Settings, _: argparse.Namespace) -> int:
    LocalStack.from_settings(settings).down(say)
    return 0


def status(settings: Settings, _: argparse.Namespace) -> int:
    statuses = LocalStack.from_settings(settings).status()
    for service in statuses:
        say(service.line())
    return 0 if all(s.state != "stopped" for s in statuses) else 3


def reset(settings: Settings, _: argparse.Namespace) -> int:
    LocalStack.from_settings(settings).reset(say)
    return 0


def check(settings: Settings, _: argparse.Namespace) -> int:
    result = asyncio.run(check_stack(settings))
    say(
        f"kafka      ok  record produced and read back at offset {result.kafka_offset} "
        f"in {result.kafka_round_trip_ms:.0f} ms"
    )
    say(f"postgres   ok  PostgreSQL {result.postgres_version}")
    return 0


def url(settings: Settings, args: argparse.Namespace) -> int:
    """A login's PostgreSQL URL, password included: for psql, a spreadsheet, a reader's own tools."""
    if not settings.uses_local_postgres:
        raise ConfigError(
            "DATABASE_URL is set: the database is not the local stack's (a reader login of its own "
            "comes from `rekap db login set NAME --role reader`)"
        )
    secrets = StackSecrets.load(settings.stack_dir)
    if secrets is None:
        raise StackError(f"No local stack in {settings.stack_dir} (no secrets.json): start it with `rekap stack up`.")
    say(stack_settings(settings).dsn_for(args.login))
    return 0


URL = """rekap stack url                   # KPU's reader: psql "$(rekap stack url)"
rekap stack url operator          # the operators' login"""


def register(commands: SubParsers) -> None:
    stack = commands.add_parser("stack", help="the local Kafka broker and PostgreSQL")
    actions = stack.add_subparsers(title="stack commands", required=True, metavar="ACTION")
    starting = add_command(
        actions,
        "up",
        up,
        "start the local broker and database (fetching them once), and the tabulator if it ran before",
        reads=LOCAL_STACK,
        example="rekap stack up\nrekap stack up --tabulator   # and a tabulator (the master data loaded first)\n"
        "rekap stack up --brokers 3 --standby   # no single server's loss loses a vote (docs/operators.md)\n"
        "REKAP_HOME=/srv/b REKAP_KAFKA_PORT=19092 rekap stack up   # a second stack",
    )
    starting.add_argument("--tabulator", action="store_true", help="also start a tabulator in the background")
    add_shape_options(starting)
    add_command(actions, "down", down, "stop them, keeping their data", reads=(), example="rekap stack down")
    add_command(
        actions,
        "promote",
        promote,
        "failover: stop the PostgreSQL primary, promote the standby",
        reads=LOCAL_STACK,
        example="rekap stack promote   # the tabulators' URL names both servers: they find the new primary",
    )
    add_command(
        actions,
        "standby",
        standby,
        "after a failover: make the lost server a standby of the new primary",
        reads=LOCAL_STACK,
        example="rekap stack standby   # its old data deleted, copied again from the primary (pg_basebackup)",
    )
    add_command(
        actions,
        "status",
        status,
        "say what runs where (exit 3 if something is stopped)",
        reads=LOCAL_STACK,
        example="rekap stack status",
    )
    add_command(
        actions,
        "reset",
        reset,
        "stop them and delete their data",
        reads=(),
        example="rekap stack reset   # the broker's jars stay cached",
    )
    showing = add_command(
        actions,
        "url",
        url,
        "print a local database login's PostgreSQL URL, password included (default: KPU's reader, read-only)",
        reads=("postgres_port", "database_url"),
        example=URL,
    )
    showing.add_argument(
        "login",
        nargs="?",
        default="reader",
        choices=tuple(LOCAL_LOGINS),
        metavar="LOGIN",
        help="reader (KPU, read-only; the default), operator, tabulator or owner",
    )
    add_command(
        actions,
        "check",
        check,
        "a round trip through the broker and the database",
        reads=LOCAL_STACK,
        example="rekap stack check",
    )
