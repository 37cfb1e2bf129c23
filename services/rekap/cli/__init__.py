"""The one command line, `rekap`, with a sub-command for each job (one module per group)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import pydantic

from rekap import __version__
from rekap.cli.common import Command
from rekap.config import Settings
from rekap.devstack.secrets import stack_settings
from rekap.errors import RekapError
from rekap.logs import configure_logging

# The command modules (rekap.cli.NAME, each registering the command of its name, some one more), in the order
# `rekap --help` lists them: the operators' first.
COMMANDS = (
    "stack",
    "db",
    "kafka",
    "masterdata",
    "terminal",
    "tabulator",
    "photos",
    "publish",
    "simulate",
    "review",
    "report",
    "audit",
    "site",
    "contract",
    "demo",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or only the module named's (what running its command needs: importing every
    command's libraries would cost `rekap site build`, run every 30 s, half a second each time)."""
    parser = argparse.ArgumentParser(prog="rekap", description="Pilkada vote-count tabulation.")
    parser.add_argument("--version", action="version", version=f"rekap {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"rekap.cli.{name}").register(commands)
    return parser


def said(error: RekapError | pydantic.ValidationError) -> list[str]:
    """What the user reads of an error that ends a command: a line (one per wrong setting). A driver's error
    never gets here: every connection's calls leave the adapters as RekapErrors."""
    if isinstance(error, pydantic.ValidationError):
        return setting_problems(error)
    return [str(error)]


def setting_problems(error: pydantic.ValidationError) -> list[str]:
    """One line per wrong setting, named as it is set: the environment variable, not the field."""
    problems = []
    for problem in error.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else ""
        variable = Settings.environment_variable(field)
        given = problem.get("input")
        shown = f"={given}" if isinstance(given, str | int | float) and "url" not in field else ""
        problems.append(f"{variable}{shown}: {problem['msg']}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(given[0] if given and given[0] in COMMANDS else None)
    if not given:
        parser.print_help()
        return 2
    args = parser.parse_args(given)
    try:
        settings = stack_settings(Settings())  # the local stack's servers where the settings name none
        configure_logging(settings)
        handler: Command = args.handler
        return handler(settings, args)
    except (RekapError, pydantic.ValidationError) as error:
        for line in said(error):
            print(f"rekap: {line}", file=sys.stderr)
        return (
            error.exit_status
            if isinstance(error, RekapError)
            else 2
            if isinstance(error, pydantic.ValidationError)
            else 1
        )
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as a killed writer would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail again
        return 141
