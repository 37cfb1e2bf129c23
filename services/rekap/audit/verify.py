"""`rekap audit verify`: the count again, from the bundle alone (no database, no Kafka), with Rekap's own
rules: every file against the manifest, every deciding form's signature against its terminal's key and
scope at the time it was received, its arithmetic, one form per TPS and contest, and every total at
every level recomputed and compared with the bundle's. Every discrepancy is reported; none means the
bundle's totals are what its signed forms add up to."""

from __future__ import annotations

import base64
import binascii
import csv
import functools
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rekap.domain.masterdata import MasterData
from rekap.domain.regions import Level, ancestor
from rekap.domain.revisions import Authority
from rekap.domain.rules import arithmetic_problems, master_data_problems
from rekap.domain.signing import Verifier
from rekap.domain.tally import TallyV1, quotes_of
from rekap.domain.terminals import Scope, ScopeKind
from rekap.errors import RekapError
from rekap.masterdata.files import read_master_data_folder

LEVELS = (Level.KECAMATAN, Level.KABUPATEN_KOTA, Level.PROVINSI)
TOTAL_COLUMNS = ("tps_expected", "tps_counted", "tps_quarantined", "valid", "invalid", "ballots_used")
# Held for reasons the deciding forms alone cannot show (the forms before them, the moment of judging):
# the bundle's word is taken (a held form counts nothing, so it cannot raise a total).
UNCHECKABLE_HOLDS = {"revision_jump", "submitted_in_future"}
MAX_SHOWN = 200


class BundleError(RekapError):
    """The folder is no bundle (no manifest, an unknown format)."""


@dataclass(frozen=True)
class RegisteredTerminal:
    public_key: bytes
    scope: Scope
    registered_at: datetime
    revoked_at: datetime | None


@dataclass
class Recount:
    forms: int = 0
    counted: int = 0
    held: int = 0
    taken_as_held: int = 0  # held for a reason the bundle alone cannot check
    problems: list[str] = field(default_factory=list)
    manifest_sha256: str = ""

    @property
    def agrees(self) -> bool:
        return not self.problems


def verify_bundle(folder: Path) -> Recount:
    """Raises BundleError for a folder that is no bundle or a file that cannot be read as its kind."""
    try:
        return _verify(folder)
    except (OSError, ValueError, KeyError, TypeError) as error:  # a file of the wrong shape: said, not raised
        raise BundleError(f"{folder}: cannot be read as an audit bundle: {type(error).__name__}: {error}") from None


def _verify(folder: Path) -> Recount:
    recount = Recount()
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(f"{folder}: no manifest.json (not an audit bundle, or an unfinished one)")
    manifest = json.loads(manifest_path.read_bytes())
    if manifest.get("format") != "rekap-audit-bundle/1":
        raise BundleError(f"{folder}: format {manifest.get('format')!r}, this verifier reads rekap-audit-bundle/1")
    recount.manifest_sha256 = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    _check_files(folder, manifest, recount)
    master = read_master_data_folder(folder / "masterdata").master_data()
    terminals = _terminals(folder / "terminals.csv")
    skew = timedelta(seconds=manifest["max_clock_skew_s"])
    chosen: dict[tuple[str, str], tuple[Authority, int, dict[str, Any], TallyV1 | None]] = {}
    with (folder / "forms.jsonl").open(encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, 1):
            recount.forms += 1
            try:
                form = json.loads(text)
                where = f"forms.jsonl:{number} ({form['tps_id']}, {form['contest_id']})"
                tally, authority = _check_form(form, master=master, terminals=terminals, skew=skew, where=where,
                                               problems=recount.problems)  # fmt: skip
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                recount.problems.append(f"forms.jsonl:{number}: not a form line ({type(error).__name__}: {error})")
                continue
            key = (form["tps_id"], form["contest_id"])
            if key in chosen:
                recount.problems.append(f"{where}: a second form for this TPS and contest")
            if key not in chosen or (authority, form["revision"]) > chosen[key][:2]:
                chosen[key] = (authority, form["revision"], form, tally)
    totals, votes = _recounted(master, chosen.values(), recount)
    _compare(folder, totals, votes, recount.problems)
    return recount


def _check_files(folder: Path, manifest: dict[str, Any], recount: Recount) -> None:
    for name, described in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            recount.problems.append(f"{name}: listed in the manifest, missing")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != described["sha256"]:
            recount.problems.append(f"{name}: SHA-256 {digest}, the manifest says {described['sha256']}")


def _terminals(path: Path) -> dict[str, RegisteredTerminal]:
    with path.open(encoding="utf-8", newline="") as f:
        return {
            row["terminal_id"]: RegisteredTerminal(
                base64.b64decode(row["public_key"]), Scope.parse(row["scope"]),
                datetime.fromisoformat(row["registered_at"]),
                datetime.fromisoformat(row["revoked_at"]) if row["revoked_at"] else None,
            )
            for row in csv.DictReader(f)
        }  # fmt: skip


def _check_form(  # noqa: PLR0911 (a return per way a form can fail)
    form: dict[str, Any],
    *,
    master: MasterData,
    terminals: dict[str, RegisteredTerminal],
    skew: timedelta,
    where: str,
    problems: list[str],
) -> tuple[TallyV1 | None, Authority]:
    """The form read from its exact bytes and checked; (None, KPPS) when it cannot count at all."""
    try:
        value = base64.b64decode(form["value"], validate=True)
        tally = TallyV1.model_validate_json(value)
    except (binascii.Error, ValidationError, TypeError) as error:
        problems.append(f"{where}: the value is not a tally v1 form: {str(error).splitlines()[0]}")
        return None, Authority.KPPS
    if quotes_of(tally) != value.count(b'"'):
        problems.append(f"{where}: the value repeats a key")
        return None, Authority.KPPS
    said = (form["tps_id"], form["contest_id"], form["revision"], form["terminal_id"])
    if (tally.tps_id, tally.contest_id, tally.revision, tally.terminal_id) != said:
        problems.append(f"{where}: the signed form says {tally.tps_id}, {tally.contest_id}, revision "
                        f"{tally.revision}, terminal {tally.terminal_id}")  # fmt: skip
        return None, Authority.KPPS
    if base64.b64decode(form["key"] or "") != tally.tps_id.encode():
        problems.append(f"{where}: the record's key is not the TPS")
    tps, contest = master.tps.get(tally.tps_id), master.contests.get(tally.contest_id)
    if tps is None or contest is None or not contest.is_held_at(tally.tps_id) or tally.votes.keys() != contest.choices:
        problems.append(f"{where}: the TPS, contest or choices are not in the master data")
        return None, Authority.KPPS
    terminal = terminals.get(tally.terminal_id)
    received = datetime.fromisoformat(form["received_at"])
    if terminal is None or not terminal.scope.covers(tally.tps_id):
        problems.append(f"{where}: terminal {tally.terminal_id} is unknown or may not submit for this TPS")
        return None, Authority.KPPS
    if received < terminal.registered_at or (terminal.revoked_at is not None and terminal.revoked_at <= received):
        problems.append(f"{where}: terminal {tally.terminal_id} was not registered and active when it came")
        return None, Authority.KPPS
    signature = form.get("signature")
    if signature is None or not _verifier(terminal.public_key).verify(value, signature.encode()):
        problems.append(f"{where}: the signature is not {tally.terminal_id}'s over these bytes")
        return None, Authority.KPPS
    authority = Authority.PPK if terminal.scope.kind is ScopeKind.KECAMATAN else Authority.KPPS
    if form["authority"] != authority:
        problems.append(f"{where}: authority {form['authority']}, the terminal's scope gives {int(authority)}")
    latest = (received + skew).timestamp()
    found = [r.value for r in arithmetic_problems(tally) + master_data_problems(tally, tps, latest)]
    if found and form["status"] != "held":
        problems.append(f"{where}: counted, but it breaks {', '.join(found)}")
    if not found and form["status"] == "held" and not set(form["reasons"]) <= UNCHECKABLE_HOLDS:
        problems.append(f"{where}: held for {form['reasons']}, but it breaks no rule")
    return tally, authority


@functools.cache
def _verifier(public_key: bytes) -> Verifier:
    """One per key, as the tabulator's decoder keeps them: a terminal signs many forms."""
    return Verifier(public_key)


def _recounted(
    master: MasterData, chosen: Any, recount: Recount
) -> tuple[dict[tuple[str, str, str], dict[str, int]], dict[tuple[str, str, str, str], int]]:
    totals: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOTAL_COLUMNS, 0))
    votes: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for tps_id in master.tps:
        for contest in master.contests_at(tps_id):
            for level in LEVELS:
                region = (level.value, ancestor(tps_id, level), contest.contest_id)
                totals[region]["tps_expected"] += 1
                for choice in contest.choices:
                    votes[(*region, choice)] += 0
    for _, _, form, tally in chosen:
        held = form["status"] == "held" or tally is None
        if tally is not None and form["status"] == "held" and set(form["reasons"]) <= UNCHECKABLE_HOLDS:
            recount.taken_as_held += 1
        recount.held += held
        recount.counted += not held
        for level in LEVELS:
            region = (level.value, ancestor(form["tps_id"], level), form["contest_id"])
            row = totals[region]
            if held or tally is None:
                row["tps_quarantined"] += tally is not None
                continue
            row["tps_counted"] += 1
            row["valid"] += tally.valid
            row["invalid"] += tally.invalid
            row["ballots_used"] += tally.ballots.used
            for choice, n in tally.votes.items():
                votes[(*region, choice)] += n
    return totals, votes


def _compare(
    folder: Path,
    totals: dict[tuple[str, str, str], dict[str, int]],
    votes: dict[tuple[str, str, str, str], int],
    problems: list[str],
) -> None:
    with (folder / "totals.csv").open(encoding="utf-8", newline="") as f:
        stated: dict[tuple[str, ...], object] = {
            (r["level"], r["region_code"], r["contest_id"]): {c: int(r[c]) for c in TOTAL_COLUMNS}
            for r in csv.DictReader(f)
        }
    problems += _differences("totals.csv", stated, dict(totals))
    with (folder / "votes.csv").open(encoding="utf-8", newline="") as f:
        stated = {(r["level"], r["region_code"], r["contest_id"], r["choice"]): int(r["votes"])
                  for r in csv.DictReader(f)}  # fmt: skip
    problems += _differences("votes.csv", stated, dict(votes))


def _differences(name: str, stated: dict[tuple[str, ...], object], recounted: dict[Any, Any]) -> list[str]:
    return [f"{name} {'/'.join(key)}: the bundle says {stated.get(key)}, the forms add up to {recounted.get(key)}"
            for key in sorted(stated.keys() | recounted.keys()) if stated.get(key) != recounted.get(key)]  # fmt: skip
