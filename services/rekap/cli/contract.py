"""`rekap contract ...`: the tally contract v1 as JSON Schema."""

from __future__ import annotations

import argparse
import json

from rekap.cli.common import SubParsers, add_command, say
from rekap.config import Settings
from rekap.domain.tally import json_schema
from rekap.resources import tally_schema_file


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def schema(_: Settings, args: argparse.Namespace) -> int:
    if args.write:
        tally_schema_file().write_text(schema_text())
        say(f"wrote {tally_schema_file()}")
    else:
        print(schema_text(), end="")
    return 0


def register(commands: SubParsers) -> None:
    contract = commands.add_parser("contract", help="the tally contract v1")
    actions = contract.add_subparsers(title="contract commands", required=True, metavar="ACTION")
    sub = add_command(
        actions,
        "schema",
        schema,
        "print the JSON Schema of tally v1 (generated from the code)",
        reads=(),
        example="rekap contract schema > tally-v1.schema.json",
    )
    sub.add_argument("--write", action="store_true", help="write it to schemas/tally-v1.schema.json")
