#!/usr/bin/env python3
"""A second, independent verifier of a Rekap audit bundle: the Python standard library and one Ed25519
library (PyNaCl), nothing of Rekap. It follows docs/audit-bundle.md only, as an observer's verifier
would, so that Rekap's own (`rekap audit verify`) is not the sole judge of Rekap's count.

    python3 tools/verify_bundle.py BUNDLE_DIR        # exit 0: every file, signature, form and total agrees

Any Python 3.11 or later with PyNaCl (`pip install pynacl`; the repository's .venv has it).

It prints every discrepancy, one per line, then a summary.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import re
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import nacl.exceptions
import nacl.signing

COUNT_MAX = 9999
REGISTERED_MAX = 600
UNCHECKABLE_HOLDS = {"revision_jump", "submitted_in_future"}
TOTAL_COLUMNS = ("tps_expected", "tps_counted", "tps_quarantined", "valid", "invalid", "ballots_used")
LEVELS = {"kecamatan": 6, "kabupaten_kota": 4, "provinsi": 2}
CHOICE = re.compile(r"([1-9][0-9]?|kolom_kosong)")


class NotAForm(Exception):
    pass


def strict_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise NotAForm("a key is repeated")
    return dict(pairs)


def count(value: object, where: str) -> int:
    if type(value) is not int or not 0 <= value <= COUNT_MAX:
        raise NotAForm(f"{where} is not a count from 0 to {COUNT_MAX}")
    return value


def fields(obj: object, names: set[str], where: str) -> dict[str, object]:
    if not isinstance(obj, dict) or set(obj) != names:
        raise NotAForm(f"{where} must hold exactly {sorted(names)}")
    return obj


def parse_form(value: bytes) -> dict[str, object]:
    """The form as tally v1 defines it, checked for what the arithmetic needs."""
    try:
        form = json.loads(value.decode("utf-8"), object_pairs_hook=strict_object)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotAForm(str(error)) from None
    top = {
        "schema",
        "submission_id",
        "terminal_id",
        "tps_id",
        "contest_id",
        "revision",
        "submitted_at",
        "voters",
        "ballots",
        "votes",
        "valid",
        "invalid",
    }
    fields(form, top, "the form")
    if form["schema"] != "tally/v1" or not re.fullmatch(r"[0-9]{13}", str(form["tps_id"])):
        raise NotAForm("not a tally/v1 form of a TPS")
    voters = fields(form["voters"], {"registered", "voted", "disabled_voted"}, "voters")
    voted = fields(voters["voted"], {"dpt", "moved_in", "added"}, "voters.voted")
    for part, where in (
        (voters["registered"], "registered"),
        (voters["disabled_voted"], "disabled_voted"),
        *((voted[k], f"voted.{k}") for k in ("dpt", "moved_in", "added")),
    ):
        sexes = fields(part, {"male", "female"}, where)
        count(sexes["male"], where), count(sexes["female"], where)
    ballots = fields(form["ballots"], {"received", "used", "damaged", "unused"}, "ballots")
    for k in ballots:
        count(ballots[k], f"ballots.{k}")
    votes = form["votes"]
    if not isinstance(votes, dict) or not votes or not all(CHOICE.fullmatch(c) for c in votes):
        raise NotAForm("votes must name choices")
    for c, n in votes.items():
        count(n, f"votes.{c}")
    count(form["valid"], "valid"), count(form["invalid"], "invalid")
    if type(form["revision"]) is not int or form["revision"] < 1:
        raise NotAForm("revision must be a positive integer")
    return form


def broken_rules(form: dict, tps: tuple[int, int], received: datetime, skew: timedelta) -> list[str]:
    """The arithmetic and the master data: what makes a signed form held for review, not counted."""
    v, b = form["voters"], form["ballots"]
    dpt, moved, added, registered = v["voted"]["dpt"], v["voted"]["moved_in"], v["voted"]["added"], v["registered"]
    broken = []
    if sum(form["votes"].values()) != form["valid"]:
        broken.append("votes_sum_ne_valid")
    if form["valid"] + form["invalid"] != b["used"]:
        broken.append("valid_invalid_ne_used")
    if b["used"] != sum(x["male"] + x["female"] for x in (dpt, moved, added)):
        broken.append("used_ne_voted")
    if b["received"] != b["used"] + b["damaged"] + b["unused"]:
        broken.append("ballots_unbalanced")
    if dpt["male"] > registered["male"] or dpt["female"] > registered["female"]:
        broken.append("voted_exceeds_registered")
    if registered["male"] + registered["female"] > REGISTERED_MAX:
        broken.append("registered_exceeds_capacity")
    if (registered["male"], registered["female"]) != tps:
        broken.append("registered_ne_master_data")
    if datetime.fromisoformat(str(form["submitted_at"])) > received + skew:
        broken.append("submitted_in_future")
    return broken


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def verify(folder: Path) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    manifest = json.loads((folder / "manifest.json").read_bytes())
    for name, described in manifest["files"].items():
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != described["sha256"]:
            problems.append(f"{name}: missing or not the file the manifest seals")
    skew = timedelta(seconds=manifest["max_clock_skew_s"])
    md = folder / "masterdata"
    tps = {r["tps_id"]: (int(r["registered_male"]), int(r["registered_female"])) for r in rows(md / "tps.csv")}
    choices: dict[str, set[str]] = defaultdict(set)
    for r in rows(md / "choices.csv"):
        choices[r["contest_id"]].add(r["choice"])
    contests = [r["contest_id"] for r in rows(md / "contests.csv")]

    def holds(contest: str, tps_id: str) -> bool:
        kind, region = contest.split("-")
        return tps_id.startswith(region) and len(region) == {"pkwkp": 2, "pkwkk": 4}[kind]

    terminals = {r["terminal_id"]: r for r in rows(folder / "terminals.csv")}
    chosen: dict[tuple[str, str], tuple[tuple[int, int], dict, dict | None]] = {}
    counts = {"forms": 0, "counted": 0, "held": 0}
    with (folder / "forms.jsonl").open(encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, 1):
            counts["forms"] += 1
            where = f"forms.jsonl:{number}"
            try:
                line = json.loads(text)
                line["tps_id"], line["contest_id"], line["revision"], line["status"]
            except (ValueError, KeyError, TypeError) as error:
                problems.append(f"{where}: not a form line: {error}")
                continue
            form = None
            authority = 1
            try:
                value = base64.b64decode(line["value"], validate=True)
                form = parse_form(value)
                said = (line["tps_id"], line["contest_id"], line["revision"], line["terminal_id"])
                if (form["tps_id"], form["contest_id"], form["revision"], form["terminal_id"]) != said:
                    raise NotAForm("the line does not say what the signed form says")
                if base64.b64decode(line["key"] or "") != str(form["tps_id"]).encode():
                    raise NotAForm("the record's key is not the TPS")
                contest = str(form["contest_id"])
                if (
                    form["tps_id"] not in tps
                    or contest not in contests
                    or not holds(contest, str(form["tps_id"]))
                    or set(form["votes"]) != choices[contest]
                ):
                    raise NotAForm("TPS, contest or choices not in the master data")
                terminal = terminals.get(form["terminal_id"])
                if terminal is None:
                    raise NotAForm("unknown terminal")
                kind, code = terminal["scope"].split(":")
                if not (form["tps_id"] == code if kind == "tps" else form["tps_id"][:6] == code):
                    raise NotAForm("the terminal may not submit for this TPS")
                received = datetime.fromisoformat(line["received_at"])
                registered = datetime.fromisoformat(terminal["registered_at"])
                revoked = terminal["revoked_at"] and datetime.fromisoformat(terminal["revoked_at"])
                if received < registered or (revoked and revoked <= received):
                    raise NotAForm("the terminal was not registered and active when the form came")
                key = nacl.signing.VerifyKey(base64.b64decode(terminal["public_key"]))
                signature = base64.b64decode(line["signature"] or "", validate=True)
                key.verify(value, signature)
                authority = 2 if kind == "kecamatan" else 1
                if line["authority"] != authority:
                    problems.append(f"{where}: authority {line['authority']}, the terminal's scope gives {authority}")
                broken = broken_rules(form, tps[form["tps_id"]], received, skew)
                if broken and line["status"] != "held":
                    problems.append(f"{where}: counted, but it breaks {broken}")
                if not broken and line["status"] == "held" and not set(line["reasons"]) <= UNCHECKABLE_HOLDS:
                    problems.append(f"{where}: held, but it breaks no rule")
            except (NotAForm, KeyError, ValueError, binascii.Error, nacl.exceptions.BadSignatureError) as error:
                problems.append(f"{where}: cannot count: {type(error).__name__}: {error}")
                form = None
            key_ = (line["tps_id"], line["contest_id"])
            rank = (authority, line["revision"])
            if key_ in chosen:
                problems.append(f"{where}: a second form for {key_}")
            if key_ not in chosen or rank > chosen[key_][0]:
                chosen[key_] = (rank, line, form)
    totals: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOTAL_COLUMNS, 0))
    votes: dict[tuple[str, ...], int] = {}
    for tps_id in tps:
        for contest in contests:
            if holds(contest, tps_id):
                for level, digits in LEVELS.items():
                    totals[(level, tps_id[:digits], contest)]["tps_expected"] += 1
                    for c in choices[contest]:
                        votes[(level, tps_id[:digits], contest, c)] = 0
    for _, line, form in chosen.values():
        held = line["status"] == "held" or form is None
        counts["held" if held else "counted"] += 1
        for level, digits in LEVELS.items():
            region = (level, line["tps_id"][:digits], line["contest_id"])
            if form is None:
                continue
            if held:
                totals[region]["tps_quarantined"] += 1
                continue
            t = totals[region]
            t["tps_counted"] += 1
            t["valid"] += form["valid"]
            t["invalid"] += form["invalid"]
            t["ballots_used"] += form["ballots"]["used"]
            for c, n in form["votes"].items():
                votes[(*region, c)] = votes.get((*region, c), 0) + n
    stated = {
        (r["level"], r["region_code"], r["contest_id"]): {c: int(r[c]) for c in TOTAL_COLUMNS}
        for r in rows(folder / "totals.csv")
    }
    for key in sorted(stated.keys() | totals.keys()):
        if stated.get(key) != totals.get(key):
            problems.append(f"totals {'/'.join(key)}: bundle {stated.get(key)}, forms {totals.get(key)}")
    stated_votes = {
        (r["level"], r["region_code"], r["contest_id"], r["choice"]): int(r["votes"])
        for r in rows(folder / "votes.csv")
    }
    for key in sorted(stated_votes.keys() | votes.keys()):
        if stated_votes.get(key) != votes.get(key):
            problems.append(f"votes {'/'.join(key)}: bundle {stated_votes.get(key)}, forms {votes.get(key)}")
    return problems, counts


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: verify_bundle.py BUNDLE_DIR (see docs/audit-bundle.md)", file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    if not (folder / "manifest.json").is_file():
        print(f"{folder}: no manifest.json: not an audit bundle, or an unfinished one", file=sys.stderr)
        return 2
    try:
        problems, counts = verify(folder)
    except (OSError, ValueError, KeyError, TypeError) as error:  # a file of the wrong shape
        print(f"NOT VERIFIED: {folder} cannot be read as an audit bundle: {type(error).__name__}: {error}")
        return 1
    for problem in problems:
        print(f"DISCREPANCY {problem}")
    seal = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    print(f"{counts['forms']} forms: {counts['counted']} counted, {counts['held']} held; manifest SHA-256 {seal}")
    print("VERIFIED" if not problems else f"NOT VERIFIED: {len(problems)} discrepancies")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
