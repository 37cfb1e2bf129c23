"""What every sub-command shares: printing to its user, connecting to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import asyncpg

from rekap.config import DbUser, Settings, redact_url
from rekap.errors import ConfigError, UnavailableError

Command = Callable[[Settings, argparse.Namespace], int]
if TYPE_CHECKING:  # generic only to the type checker
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction
T = TypeVar("T")


def say(message: str = "") -> None:
    print(message, flush=True)


def add_command(group: SubParsers, name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
    sub = group.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=handler)
    return sub


URL_SETTING = {"owner": "REKAP_OWNER_DATABASE_URL", "operator": "REKAP_OPERATOR_DATABASE_URL"}


async def connect(settings: Settings, user: DbUser = "operator") -> asyncpg.Connection:
    """A session as `user`: operators' commands connect as the operator, `db` commands as the owner."""
    url = settings.dsn_for(user)
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        where = "DATABASE_URL" if user not in URL_SETTING else f"{URL_SETTING[user]} (or DATABASE_URL)"
        raise UnavailableError(
            f"Cannot connect to PostgreSQL at {redact_url(url)} as the {user}: {error}. "
            f"Is the stack up (`rekap stack up`), or {where} right?"
        ) from None


def with_connection(
    settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]], user: DbUser = "operator"
) -> T:
    """Run `work` on a fresh connection as `user`, closed afterwards."""

    async def run() -> T:
        conn = await connect(settings, user)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def add_password_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--password-env", metavar="VAR",
        help="take the password from this environment variable (else: one line on stdin, or asked twice)",
    )  # fmt: skip


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
