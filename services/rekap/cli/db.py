"""`rekap db ...`: the PostgreSQL schema."""

from __future__ import annotations

import argparse

import asyncpg

from rekap.adapters.postgres.migrations import applied_migrations, load_migrations, migrate
from rekap.cli.common import SubParsers, add_command, say, with_connection
from rekap.config import Settings
from rekap.resources import migrations_dir


def migrate_command(settings: Settings, _: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> None:
        applied = await migrate(conn, load_migrations(migrations_dir()))
        for migration in applied:
            say(f"applied {migration.filename}")
        say(f"{len(applied)} migration(s) applied; the database is up to date.")

    with_connection(settings, work)
    return 0


def status(settings: Settings, _: argparse.Namespace) -> int:
    applied = dict(with_connection(settings, applied_migrations))
    pending = 0
    for migration in load_migrations(migrations_dir()):
        done = migration.version in applied
        pending += not done
        say(f"{'applied' if done else 'pending'}  {migration.filename}")
    return 0 if pending == 0 else 3


def register(commands: SubParsers) -> None:
    db = commands.add_parser("db", help="the PostgreSQL schema")
    actions = db.add_subparsers(title="db commands", required=True, metavar="ACTION")
    add_command(actions, "migrate", migrate_command, "apply the SQL migrations not yet applied")
    add_command(actions, "status", status, "list applied and pending migrations (exit 3 if pending)")
