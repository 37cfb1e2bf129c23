"""What every sub-command shares: printing to its user, its settings, a session on PostgreSQL."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from rekap.config import Settings
from rekap.domain.head import TreeHead
from rekap.errors import ConfigError

Command = Callable[[Settings, argparse.Namespace], int]
if TYPE_CHECKING:  # generic only to the type checker
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction
T = TypeVar("T")


def say(message: str = "") -> None:
    print(message, flush=True)


def local_time(moment: datetime, time_zone: str | None, zone: str | None) -> str:
    """A moment on its region's clock, labelled with the zone (the database's rekap.provinsi_zone: Asia/Jakarta
    is WIB): "2024-11-27 14:03:05 WIB". In UTC, labelled so, for a region of no known zone."""
    if time_zone is None or zone is None:
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    return f"{moment.astimezone(ZoneInfo(time_zone)):%Y-%m-%d %H:%M:%S} {zone}"


def say_registry(head: TreeHead) -> None:
    """The registry's new head, after a change a witness will want to see in it."""
    say(f"registry: {head.size} leaves, root {head.root.hex()} (the next signed head publishes it)")


# What a command reads from the environment, as settings fields; its --help lists them by variable.
KAFKA = ("kafka_bootstrap", "kafka_username", "kafka_password", "kafka_ca_file")
TOPICS = ("tally_topic", "dead_letter_topic", "topic_partitions")
OPERATOR_DB = ("operator_database_url", "database_url")
OWNER_DB = ("owner_database_url", "database_url")
TABULATOR = (
    *("group_id", "group_instance_id", "verify_signatures", "batch_max_records", "terminal_refresh_s"),
    *("session_timeout_ms", "db_statement_timeout_s", "db_lock_timeout_s", "db_idle_in_transaction_timeout_s"),
    *("metrics_address", "shutdown_timeout_s"),
)
LOCAL_STACK = ("kafka_version", "kafka_port", "kafka_controller_port", "postgres_port")
EVERY_COMMAND = ("home", "log_level", "log_format")


def add_command(
    group: SubParsers, name: str, handler: Command, help_text: str, *, reads: Sequence[str], example: str
) -> argparse.ArgumentParser:
    """A sub-command whose --help ends with the environment variables it reads and an example."""
    sub = group.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=usage_epilog(reads, example),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.set_defaults(handler=handler)
    return sub


def usage_epilog(reads: Sequence[str], example: str) -> str:
    lines = ["environment variables:"]
    for field in dict.fromkeys(reads):  # in order, once each
        described = Settings.model_fields[field].description or ""
        first = described.split(". ")[0].rstrip(".")
        variable = f"{Settings.environment_variable(field):<28}"
        lines += textwrap.wrap(f"{variable} {first}", 116, initial_indent="  ", subsequent_indent=" " * 31)
    every = ", ".join(Settings.environment_variable(field) for field in EVERY_COMMAND)
    lines += [f"  and, as every command: {every}", "", "example:"]
    lines += [f"  {line}".rstrip() for line in example.splitlines()]
    return "\n".join(lines)


def add_password_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--password-env",
        metavar="VAR",
        help="take the password from this environment variable (else: one line on stdin, or asked twice)",
    )


def read_password(args: argparse.Namespace, whose: str) -> str:
    """From --password-env, else a line of stdin when it is not a terminal, else asked twice."""
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise ConfigError(f"--password-env {args.password_env}: that environment variable is empty or unset.")
        return password
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ConfigError(f"No password on stdin for {whose}.")
        return password
    first = getpass.getpass(f"Password for {whose}: ")
    if first != getpass.getpass("Again: "):
        raise ConfigError("The two passwords differ; nothing was changed.")
    return first
