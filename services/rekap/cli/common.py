"""What every sub-command shares: printing to its user, connecting to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import asyncpg

from rekap.config import Settings
from rekap.errors import UnavailableError

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


async def connect(settings: Settings) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(settings.dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise UnavailableError(
            f"Cannot connect to PostgreSQL at {settings.dsn_for_display}: {error}. "
            "Is the stack up (`rekap stack up`), or DATABASE_URL right?"
        ) from None


def with_connection(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` on a fresh connection, closed afterwards."""

    async def run() -> T:
        conn = await connect(settings)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())
