"""`rekap publish` (a terminal sends a form) and `rekap status` (what is counted for a TPS)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import asyncpg
from pydantic import ValidationError

from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres.readings import tps_forms, tps_history
from rekap.cli.common import SubParsers, add_command, say, with_connection
from rekap.config import Settings
from rekap.domain.rules import arithmetic_problems
from rekap.domain.signing import read_private_key
from rekap.domain.tally import TallyV1
from rekap.errors import ConfigError
from rekap.publisher import Publisher


def publish(settings: Settings, args: argparse.Namespace) -> int:
    try:
        value = args.form.read_bytes()  # signed as they are: no re-serialisation
    except OSError as error:
        raise ConfigError(f"{args.form}: {error.strerror}: no form was sent") from None
    try:
        tally = TallyV1.model_validate_json(value)
    except ValidationError as error:
        raise ConfigError(f"{args.form} is not a tally/v1 form, not sent:\n{error}") from None
    try:
        key = read_private_key(args.key.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{args.key}: {error}") from None
    for problem in arithmetic_problems(tally):
        say(f"warning: {problem.value}: the form will be held for review, not counted")

    async def send() -> tuple[int, int]:
        terminals = settings.kafka("terminals")
        await ensure_topics(terminals, {settings.tally_topic: settings.topic_partitions})
        async with Publisher(terminals, settings.tally_topic) as publisher:
            metadata = await publisher.publish(tally.tps_id, value, key)
        return metadata.partition, metadata.offset

    partition, offset = asyncio.run(send())
    say(f"sent {tally.tps_id} {tally.contest_id} revision {tally.revision} to {settings.tally_topic}, "
        f"partition {partition}, offset {offset}")  # fmt: skip
    return 0


def status(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        return await tps_forms(conn, args.tps_id), await tps_history(conn, args.tps_id)

    forms, history = with_connection(settings, work)
    if not forms and not history:
        say(f"Nothing recorded for TPS {args.tps_id} yet.")
        return 3
    say(f"TPS {args.tps_id}: what counts now")
    for f in forms:
        votes = json.loads(f["votes"])
        held = f" held for review: {', '.join(f['reasons'])}" if f["status"] == "quarantined" else ""
        say(f"  {f['contest_id']:<11} revision {f['revision']:<3} {f['status']:<11} valid {f['valid']:>4} "
            f"invalid {f['invalid']:>3}  votes {votes}  by {f['terminal_id']}{held}")  # fmt: skip
    say("\nEvery record received for it:")
    for r in history:
        where = f"{r['partition']}/{r['offset']}"
        contest, revision = r["contest_id"] or "-", r["revision"] or "-"
        say(f"  {r['recorded_at']:%Y-%m-%d %H:%M:%S}  {where:<10} {contest:<11} rev {revision!s:<3} "
            f"{r['outcome']:<11} {r['reason'] or '':<24} {r['terminal_id'] or ''}")  # fmt: skip
    return 0


def register(commands: SubParsers) -> None:
    pub = add_command(commands, "publish", publish, "sign a form (JSON file) and send it, as a terminal does")
    pub.add_argument("form", type=Path, help="the form, tally/v1 JSON; its exact bytes are signed")
    pub.add_argument("--key", type=Path, required=True, help="the terminal's private key (PEM)")
    stat = add_command(commands, "status", status, "what is counted for a TPS, and every record received for it")
    stat.add_argument("tps_id")
