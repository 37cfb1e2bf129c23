"""`rekap review list`: what is held for review and why, oldest first, and how to correct it."""

from __future__ import annotations

import argparse

from rekap.app.regions import region_code
from rekap.app.review import held_for_review
from rekap.cli.common import OPERATOR_DB, SubParsers, add_command, local_time, say
from rekap.config import Settings
from rekap.domain.regions import Level
from rekap.wiring import photo_locations, with_session

EXAMPLES = """rekap review list                      # every held form of the province, oldest first
rekap review list --kecamatan 167101   # one PPK's queue"""


def register(commands: SubParsers) -> None:
    review = commands.add_parser("review", help="forms held for review")
    actions = review.add_subparsers(title="review commands", required=True, metavar="ACTION")
    listing = add_command(
        actions,
        "list",
        list_command,
        "what is held and why, oldest first, and how to correct it",
        reads=OPERATOR_DB,
        example=EXAMPLES,
    )
    listing.add_argument("--kecamatan", metavar="CODE", help="only this kecamatan's (6 digits)")


PHOTO_WORDS = {
    "missing": "not received yet",
    "refused": "received and refused (see rekap.photo)",
    "mismatch": "received, not the media type the form names",
}


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    kecamatan = region_code(args.kecamatan, Level.KECAMATAN) if args.kecamatan is not None else None
    held = with_session(settings, lambda session: held_for_review(session, kecamatan))
    locate = photo_locations(settings)
    for form in held:
        when = local_time(form.received_at, form.time_zone, form.zone)
        say(f"{when}  TPS {form.tps_id}  {form.contest_id}  revision {form.revision}  from {form.terminal_id}")
        for reason, why in form.explained():
            say(f"    {reason}: {why}")
        for photo in form.photos:
            where = locate(photo.name) if photo.published else PHOTO_WORDS.get(photo.photo_status, "")
            say(f"    photo of sheet {photo.sheet}: {where}")
    if held:
        say("\nTo correct one: the PPK operator of its kecamatan (a terminal with scope kecamatan:CODE) sends the")
        say("form with the right numbers: `rekap publish FORM.json --key ppk-CODE.key` (any revision: the PPK's")
        say("form supersedes the KPPS's). A form held only for its registered voters may also mean the master")
        say("data is wrong: check `rekap.tps` first.")
    say(f"{len(held)} form(s) held for review" + (f" in kecamatan {args.kecamatan}" if args.kecamatan else ""))
    return 0
