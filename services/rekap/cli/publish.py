"""`rekap publish` (a terminal sends a form) and `rekap status` (what is counted for a TPS)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from rekap.app.publish import outcome_within, why_not_counted
from rekap.app.regions import region_code
from rekap.app.status import tps_status
from rekap.cli.common import (
    KAFKA,
    OPERATOR_DB,
    SubParsers,
    add_command,
    local_time,
    say,
)
from rekap.config import Settings
from rekap.domain.decode import MAX_VALUE_BYTES, RawRecord, why_invalid
from rekap.domain.photos import inspect_bytes, media_type_of
from rekap.domain.regions import Level
from rekap.domain.signing import SigningKey, read_private_key, signed_headers
from rekap.domain.tally import TallyV1
from rekap.errors import ConfigError, RekapError, UnavailableError
from rekap.wiring import send_form, send_photos, with_session

PUBLISH = """rekap publish form.json --key kpps-1671011001001.key --wait
rekap publish form.json --key kpps-1671011001001.key --photo lembar-1.jpg lembar-2.jpg

Before sending, the form is judged as a tabulator would judge it now, against the database (the operator's
login): a form that would not be counted is not sent, and one line says why (--force sends it anyway). So is
a photo the form does not name, or one the photo consumer would refuse. The photos go first, then the form.
Exit status: 0 sent (with --wait: accepted, or a duplicate of what counts), 1 not sent, 3 held for review,
4 rejected, 5 stale (a later revision decides), 6 no outcome within --wait's seconds."""
# What --wait's exit status says (0 also: a duplicate of what counts, the numbers sent are counted).
WAIT_STATUS = {"accepted": 0, "duplicate": 0, "quarantined": 3, "rejected": 4, "stale": 5}
NO_OUTCOME_STATUS = 6
WAIT_SAYS = {
    "accepted": "accepted: counted",
    "duplicate": "duplicate: these numbers were already counted; nothing changed",
    "quarantined": "held for review, not counted",
    "rejected": "rejected",
    "stale": "stale: a later revision (or a PPK's correction) decides; nothing changed",
}


MAX_KEY_CHARS = 100  # a record key taken from a file that is not a form: a TPS id is 13


class FormRefusedError(RekapError):
    """`rekap publish` will not send a form the tabulator would not count (unless --force)."""


def publish(settings: Settings, args: argparse.Namespace) -> int:
    """1. Read the form and the key. 2. Foresee what a tabulator would make of it now; refuse what it
    would not count (unless --force: then the file's exact bytes go, whatever they are). 3. Send it,
    retrying while the broker does not answer, for --timeout seconds at most. 4. With --wait, wait for the
    tabulator's outcome and say it."""
    value, key = _read_form(args.form, args.key)
    tally = _tally(args.form, value, refuse=not args.force)
    photos = _photos(args.photo, tally, refuse=not args.force)
    if tally is not None and not args.force:
        _foresee(settings, RawRecord(tally.tps_id.encode(), value, signed_headers(value, key)), tally)
    tps_id = tally.tps_id if tally is not None else _tps_id_in(value)
    if photos:
        sent = asyncio.run(send_photos(settings, photos, within=args.timeout))
        for (sha256, data), (partition, offset) in zip(photos, sent, strict=True):
            where = f"{settings.photo_topic}, partition {partition}, offset {offset}"
            say(f"sent photo {sha256} ({len(data):,} bytes) to {where}")
    if tally is not None and (unsent := len({p.sha256 for p in tally.photos} - {sha256 for sha256, _ in photos})):
        say(f"the form names {unsent} photo(s) not sent now: send them later with --photo (the form again with them)")
    partition, offset = asyncio.run(send_form(settings, tps_id, value, key, within=args.timeout))
    what = (
        f"{tally.tps_id} {tally.contest_id} revision {tally.revision}"
        if tally is not None
        else f"{args.form}'s exact bytes (not a tally/v1 form)"
    )
    say(f"sent {what} to {settings.tally_topic}, partition {partition}, offset {offset}")
    if args.wait is None:
        return 0
    return _await_outcome(settings, partition, offset, args.wait)


def _read_form(form: Path, key_file: Path) -> tuple[bytes, SigningKey]:
    try:
        value = form.read_bytes()  # signed as they are: no re-serialisation
    except OSError as error:
        raise ConfigError(f"{form}: {error.strerror}: no form was sent") from None
    try:
        key = read_private_key(key_file.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{key_file}: {error}: no form was sent") from None
    return value, key


def _photos(files: list[Path], tally: TallyV1 | None, *, refuse: bool) -> list[tuple[str, bytes]]:
    """Each photo file's digest and bytes; with `refuse`, one the form does not name (by digest, size and media
    type), or one the photo consumer would refuse, is a FormRefusedError: nothing is sent."""
    photos = []
    named = {p.sha256: p for p in tally.photos} if tally is not None else {}
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as error:
            raise ConfigError(f"{file}: {error.strerror}: nothing was sent") from None
        sha256 = hashlib.sha256(data).hexdigest()
        photos.append((sha256, data))
        if not refuse:
            continue
        photo = named.get(sha256)
        if photo is None or photo.size != len(data) or photo.media_type != media_type_of(data):
            raise FormRefusedError(
                f"{file} (sha256 {sha256}, {len(data):,} bytes, {media_type_of(data) or 'not JPEG/PNG'}) is not a "
                "photo the form names: nothing sent (--force sends it anyway)"
            )
        verdict = inspect_bytes(data, sha256)
        if verdict.reason is not None:
            raise FormRefusedError(
                f"{file} would be refused ({verdict.reason}: {verdict.detail}): nothing sent (--force sends it anyway)"
            )
    return photos


def _tally(form: Path, value: bytes, *, refuse: bool) -> TallyV1 | None:
    """The form read as a tabulator reads it: too big, or not a tally v1 form, is refused (`refuse`) or None."""
    if len(value) > MAX_VALUE_BYTES:
        if refuse:
            raise FormRefusedError(
                f"{form} is {len(value):,} bytes, more than a form may be ({MAX_VALUE_BYTES:,}: "
                "oversize): not sent (--force sends it anyway)"
            )
        return None
    try:
        return TallyV1.model_validate_json(value)
    except ValidationError as error:
        if refuse:
            why = why_invalid(error)
            raise FormRefusedError(
                f"{form} is not a tally/v1 form ({why.reason}: {why.detail}): not sent (--force sends it anyway)"
            ) from None
        return None


def _tps_id_in(value: bytes) -> str | None:
    """The TPS a form that is not one names, if it names one (its record's key then); None: no key."""
    try:
        named = json.loads(value).get("tps_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return named if isinstance(named, str) and 0 < len(named) <= MAX_KEY_CHARS else None


def _foresee(settings: Settings, record: RawRecord, tally: TallyV1) -> None:
    try:
        why = with_session(settings, lambda session: why_not_counted(session, record, tally))
    except UnavailableError as error:
        raise UnavailableError(f"{error} The form was not checked nor sent (--force sends it unchecked).") from None
    if why is not None:
        raise FormRefusedError(f"not sent: {why} (--force sends it anyway)")


def _await_outcome(settings: Settings, partition: int, offset: int, seconds: float) -> int:
    say(f"waiting up to {seconds:g} s for a tabulator to count it ...")
    found = with_session(
        settings, lambda session: outcome_within(session, settings.tally_topic, partition, offset, seconds)
    )
    if found is None:
        say(f"no tabulator recorded an outcome within {seconds:g} s: is one running? (`rekap status TPS` later)")
        return NO_OUTCOME_STATUS
    outcome = found.outcome
    why = f": {found.reason}" if found.reason else ""
    detail = f" ({found.detail})" if found.detail else ""
    say(f"{WAIT_SAYS[outcome]}{why}{detail}")
    return WAIT_STATUS[outcome]


def status(settings: Settings, args: argparse.Namespace) -> int:
    tps_id = region_code(args.tps_id, Level.TPS)
    found = with_session(settings, lambda session: tps_status(session, tps_id))
    if not found.anything_recorded:
        say(f"Nothing recorded for TPS {args.tps_id} yet.")
        return 3
    say(f"TPS {args.tps_id}: what counts now")
    for f in found.forms:
        held = f" held for review: {', '.join(f.reasons)}" if f.status == "quarantined" else ""
        say(
            f"  {f.contest_id:<11} revision {f.revision:<3} {f.status:<11} valid {f.valid:>4} "
            f"invalid {f.invalid:>3}  votes {f.votes}  by {f.terminal_id}{held}"
        )
    say("\nEvery record received for it:")
    for r in found.history:
        where = f"{r.partition}/{r.offset}"
        contest, revision = r.contest_id or "-", r.revision or "-"
        when = local_time(r.recorded_at, r.time_zone, r.zone)
        say(
            f"  {when}  {where:<10} {contest:<11} rev {revision!s:<3} "
            f"{r.outcome:<11} {r.reason or '':<24} {r.terminal_id or ''}"
        )
    return 0


def register(commands: SubParsers) -> None:
    pub = add_command(
        commands,
        "publish",
        publish,
        "sign a form (JSON file) and send it, as a terminal does",
        reads=(*KAFKA, *OPERATOR_DB, "tally_topic", "photo_topic", "topic_partitions"),
        example=PUBLISH,
    )
    pub.add_argument("form", type=Path, help="the form, tally/v1 JSON; its exact bytes are signed")
    pub.add_argument("--key", type=Path, required=True, help="the terminal's private key (PEM)")
    pub.add_argument(
        "--photo",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="photos of the form's sheets (JPEG or PNG), each one the form names by its sha256; sent first",
    )
    pub.add_argument(
        "--force",
        action="store_true",
        help="send it even when a tabulator would not count it (for tests); nothing is checked",
    )
    pub.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=60.0,
        metavar="SECONDS",
        help="wait for a tabulator's outcome and say it (default 60 s); the exit status tells it",
    )
    pub.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to retry while the broker does not answer (default 30 s)",
    )
    stat = add_command(
        commands,
        "status",
        status,
        "what is counted for a TPS, and every record received for it",
        reads=OPERATOR_DB,
        example="rekap status 1671011001001",
    )
    stat.add_argument("tps_id")
