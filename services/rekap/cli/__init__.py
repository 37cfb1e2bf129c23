"""The one command line, `rekap`, with a sub-command for each job (one module per group)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pydantic

from rekap import __version__
from rekap.cli import (
    audit,
    contract,
    db,
    demo,
    kafka,
    masterdata,
    publish,
    report,
    simulate,
    stack,
    tabulator,
    terminal,
)  # fmt: skip
from rekap.cli.common import Command
from rekap.config import Settings
from rekap.errors import RekapError
from rekap.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rekap", description="Pilkada vote-count tabulation.")
    parser.add_argument("--version", action="version", version=f"rekap {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for group in (stack, db, kafka, masterdata, terminal, tabulator, publish, simulate, report, audit, contract, demo):
        group.register(commands)
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
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as a killed writer would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        return 141
