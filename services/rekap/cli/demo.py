"""`rekap demo`: the README's run command, from a clean clone to a working stack."""

from __future__ import annotations

import argparse

from rekap.cli import db, masterdata, stack
from rekap.cli.common import SubParsers, add_command, say
from rekap.config import Settings
from rekap.resources import sumsel_master_data_dir


def demo(settings: Settings, args: argparse.Namespace) -> int:
    say("== 1. local stack")
    stack.up(settings, args)
    say("\n== 2. database migrations")
    db.migrate_command(settings, args)
    say("\n== 3. master data of Sumatera Selatan (TPS list synthetic)")
    masterdata.load(settings, argparse.Namespace(source=sumsel_master_data_dir()))
    say("\n== 4. round trip through Kafka and PostgreSQL")
    stack.check(settings, args)
    say(
        "\nThe stack keeps running: `.venv/bin/rekap stack status`, `make down` to stop it.\n"
        "Not built yet: the tabulator and the election-night simulation (issues 4 and 5)."
    )
    return 0


def register(commands: SubParsers) -> None:
    add_command(commands, "demo", demo, "start the stack, load master data, show that it works end to end")
