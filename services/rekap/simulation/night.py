"""An election night, planned: every form of the chosen TPS, with what goes wrong on a real night in
chosen proportions; each record labelled with the outcome it must get, timed along the evening; and
the totals that must result, computed here from what was sent, independently of the tabulator."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field

from rekap.domain.masterdata import MasterData
from rekap.domain.regions import Tps
from rekap.domain.signing import SigningKey
from rekap.domain.tally import SECTION_NAMES
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.simulation.forms import Form, consistent_form, encode, kpps_terminal_id
from rekap.simulation.sheets import draw_sheet, photo_entry


def ppk_terminal_id(kecamatan: str) -> str:
    return f"ppk-{kecamatan}"


def simulated_terminals(tps_list: list[Tps], secret: bytes) -> list[Terminal]:
    """A KPPS terminal per TPS and a PPK operator per kecamatan, with keys derived from `secret`: a random
    one per local stack (see devstack/secrets.py), never a constant anyone could read in the source."""
    terminals = [
        Terminal(
            kpps_terminal_id(t.tps_id),
            SigningKey.derived(secret, kpps_terminal_id(t.tps_id)).public_key,
            Scope(ScopeKind.TPS, t.tps_id),
        )
        for t in tps_list
    ]
    for kecamatan in sorted({t.kecamatan for t in tps_list}):
        terminal_id = ppk_terminal_id(kecamatan)
        terminals.append(
            Terminal(
                terminal_id, SigningKey.derived(secret, terminal_id).public_key, Scope(ScopeKind.KECAMATAN, kecamatan)
            )
        )
    return terminals


@dataclass(frozen=True)
class Mix:
    """The share of (TPS, contest) that meet each mishap; the rest send one clean form."""

    duplicate: float = 0.03  # a mirror or a retry sends the same form again
    correction: float = 0.04  # a second revision; the first arrives again late (stale)
    overtaken: float = 0.01  # revision 3 arrives before revision 2
    conflict: float = 0.005  # the same revision twice with other numbers
    misread_fixed: float = 0.01  # a digit misread (held for review), corrected by the PPK
    misread_held: float = 0.005  # a digit misread and never corrected: stays held
    forged: float = 0.005  # someone else's key signs for the terminal
    out_of_scope: float = 0.005  # another TPS's terminal submits
    malformed: float = 0.005  # broken bytes

    def scenarios(self) -> list[tuple[str, float]]:
        shares = [(name, getattr(self, name)) for name in self.__dataclass_fields__]
        clean = 1 - sum(share for _, share in shares)
        if clean < 0:
            raise ValueError("the mishaps add up to more than every form")
        return [*shares, ("clean", clean)]


# Half the TPS meet a mishap: for tests that must see every path many times.
STRESS = Mix(
    duplicate=0.07,
    correction=0.08,
    overtaken=0.05,
    conflict=0.05,
    misread_fixed=0.06,
    misread_held=0.04,
    forged=0.03,
    out_of_scope=0.03,
    malformed=0.04,
)


@dataclass(frozen=True)
class Planned:
    """One record to publish, when in the evening (0 to 1), and the outcome it must be recorded with."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    outcome: str
    reason: str | None = None
    at: float = 0.0


@dataclass(frozen=True)
class PlannedPhoto:
    """A photo of a form's sheet, sent with the first form that names it (at `at`): stored, once."""

    sha256: str
    data: bytes
    at: float


@dataclass
class Expected:
    """The forms that must decide, per (TPS, contest): the highest authentic revision, its first content."""

    master: MasterData
    deciding: dict[tuple[str, str], tuple[int, Form, bool]] = field(default_factory=dict)  # revision, form, held
    photos: dict[str, PlannedPhoto] = field(default_factory=dict)  # by digest: every photo a form sent names

    def saw(self, form: Form, *, held: bool) -> None:
        key = (form["tps_id"], form["contest_id"])
        current = self.deciding.get(key)
        if current is None or form["revision"] > current[0]:
            self.deciding[key] = (form["revision"], form, held)

    def summary(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """(level, region, contest) -> each of SUMMARY_COLUMNS, as hasil.summary must show it."""
        rows: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(SUMMARY_COLUMNS, 0))
        for tps_id, tps in self.master.tps.items():
            for contest in self.master.contests_at(tps_id):
                for region in regions_of(tps_id):
                    row = rows[(*region, contest.contest_id)]
                    row["tps_expected"] += 1
                    row["dpt_male"] += tps.registered_male
                    row["dpt_female"] += tps.registered_female
        for (tps_id, contest_id), (_, form, held) in self.deciding.items():
            for region in regions_of(tps_id):
                row = rows[(*region, contest_id)]
                if held:
                    row["tps_quarantined"] += 1
                    continue
                row["tps_counted"] += 1
                for column, n in form_numbers(form).items():
                    row[column] += n
        return dict(rows)

    def votes(self) -> dict[tuple[str, str, str, str], int]:
        result: dict[tuple[str, str, str, str], int] = {}
        for tps_id in self.master.tps:
            for contest in self.master.contests_at(tps_id):
                for region in regions_of(tps_id):
                    for choice in contest.choices:
                        result[(*region, contest.contest_id, choice)] = 0
        for (tps_id, contest_id), (_, form, held) in self.deciding.items():
            if held:
                continue
            for region in regions_of(tps_id):
                for choice, n in form["votes"].items():
                    result[(*region, contest_id, choice)] += n
        return result


# hasil.summary's columns a night's check compares: the progress, the TPS's DPT, every number of the form.
SUMMARY_COLUMNS = (
    "valid",
    "invalid",
    "ballots_used",
    "tps_expected",
    "tps_counted",
    "tps_quarantined",
    "dpt_male",
    "dpt_female",
    *SECTION_NAMES,
)


def form_numbers(form: Form) -> dict[str, int]:
    """A form's numbers under the names hasil.summary sums them by (read from the JSON, not the model)."""
    voters, ballots = form["voters"], form["ballots"]
    numbers = {
        "valid": form["valid"],
        "invalid": form["invalid"],
        "ballots_used": ballots["used"],
        "ballots_received": ballots["received"],
        "ballots_damaged": ballots["damaged"],
        "ballots_unused": ballots["unused"],
    }
    for sex in ("male", "female"):
        numbers[f"registered_{sex}"] = voters["registered"][sex]
        numbers[f"disabled_voted_{sex}"] = voters["disabled_voted"][sex]
        for kind in ("dpt", "moved_in", "added"):
            numbers[f"voted_{kind}_{sex}"] = voters["voted"][kind][sex]
    return numbers


def regions_of(tps_id: str) -> list[tuple[str, str]]:
    return [("kecamatan", tps_id[:6]), ("kabupaten_kota", tps_id[:4]), ("provinsi", tps_id[:2])]


def corrected(form: Form, rng: random.Random, revision: int) -> Form:
    """The same form with one vote moved between choices and a new revision: still consistent."""
    new: Form = json.loads(json.dumps(form))
    new["revision"] = revision
    new["submission_id"] = f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
    choices = sorted(new["votes"])
    giver = next((c for c in choices if new["votes"][c] > 0), None)
    if giver is None:  # no valid vote: count an invalid ballot as a valid vote instead, if there is one
        if new["invalid"] == 0:
            return new
        new["invalid"] -= 1
        new["valid"] += 1
        new["votes"][choices[0]] += 1
        return new
    new["votes"][giver] -= 1
    new["votes"][choices[-1] if giver != choices[-1] else choices[0]] += 1
    return new


def misread(form: Form, revision: int) -> Form:
    """Sirekap's error: a 1 read as a 6 in the hundreds of the first choice's votes."""
    new: Form = json.loads(json.dumps(form))
    new["revision"] = revision
    new["votes"][min(new["votes"])] += 500
    return new


def evening(rng: random.Random) -> float:
    """When a TPS reports, from 0 (counting starts, 13:00) to 1 (the last, near midnight): most come
    in the late afternoon and early evening."""
    return min(0.999, rng.betavariate(2.2, 3.5))


@dataclass
class _Night:
    master: MasterData
    secret: bytes
    expected: Expected
    sign: bool = True
    photographed: str | None = None  # photos for the TPS whose id starts so ("": all), and every misread; None: none
    planned: list[Planned] = field(default_factory=list)

    def add(
        self,
        form: Form,
        outcome: str,
        at: float,
        reason: str | None = None,
        *,
        key: str | None = None,
        value: bytes | None = None,
        held: bool = False,
        paper: Form | None = None,
    ) -> None:
        """`paper`: what the C.Hasil says where the form was misread (the photo shows it)."""
        if self.photographed is not None and (paper is not None or form["tps_id"].startswith(self.photographed)):
            data = draw_sheet(paper or form)
            form = dict(form, photos=[photo_entry(data)])
            sha256 = form["photos"][0]["sha256"]
            if sha256 not in self.expected.photos:
                self.expected.photos[sha256] = PlannedPhoto(sha256, data, at)
        body = encode(form) if value is None else value
        headers = [("content-type", b"application/json")]
        if self.sign:
            headers.append(("signature", SigningKey.derived(self.secret, key or form["terminal_id"]).sign(body)))
        self.planned.append(Planned(form["tps_id"].encode(), body, headers, outcome, reason, at))
        if outcome in ("accepted", "quarantined"):
            self.expected.saw(form, held=held)


def plan_night(
    master: MasterData,
    tps_list: list[Tps],
    *,
    mix: Mix = Mix(),
    seed: int = 2024,
    secret: bytes,
    sign: bool = True,
    photos: str | None = None,
) -> tuple[list[Planned], Expected]:
    """Both contests of every TPS, each meeting one scenario of the mix; records in publishing order.
    sign=False leaves the signatures out, for tabulators that do not verify them (then forged=0). `photos`: the
    TPS whose forms name a photo of their sheet (by the start of their id, "" for all; every misread form has
    one too), drawn here (Expected.photos); None: no photos."""
    if not sign and mix.forged:
        raise ValueError("without signatures nothing can be forged: use a mix with forged=0")
    rng = random.Random(seed)  # noqa: S311 (a reproducible night, not secrets)
    night = _Night(master, secret, Expected(master), sign, photos)
    names, weights = zip(*mix.scenarios(), strict=True)
    for index, tps in enumerate(tps_list):
        for contest in master.contests_at(tps.tps_id):
            form = consistent_form(tps, contest, rng)
            scenario = rng.choices(names, weights)[0]
            at = evening(rng)
            later: list[float] = []  # when the follow-ups come: each after the one before
            for _ in range(2):
                later.append(min(0.9999, (later[-1] if later else at) + rng.uniform(0.001, 0.05)))
            neighbour = tps_list[(index + 1) % len(tps_list)]
            _play(night, _Turn(scenario, form, tps, neighbour, at, (later[0], later[1])), rng)
    night.planned.sort(key=lambda p: p.at)  # stable: one TPS's records keep their order
    return night.planned, night.expected


@dataclass(frozen=True)
class _Turn:
    """One TPS and contest meeting its scenario: the honest form, when it is first sent (`at`, a fraction of
    the evening) and when its follow-ups come, and the next TPS (whose terminal an out-of-scope form names)."""

    scenario: str
    form: Form
    tps: Tps
    neighbour: Tps
    at: float
    later: tuple[float, float]


def _play(night: _Night, turn: _Turn, rng: random.Random) -> None:
    add = night.add
    scenario, form, tps, neighbour, at, later = turn.scenario, turn.form, turn.tps, turn.neighbour, turn.at, turn.later
    if scenario == "duplicate":
        add(form, "accepted", at)
        add(form, "duplicate", later[0])
        add(dict(form, submission_id=f"00000000-0000-4000-8000-{rng.getrandbits(48):012x}"), "duplicate", later[1])
    elif scenario == "correction":
        add(form, "accepted", at)
        add(corrected(form, rng, 2), "accepted", later[0])
        add(form, "stale", later[1])
    elif scenario == "overtaken":
        add(form, "accepted", at)
        add(corrected(form, rng, 3), "accepted", later[0])
        add(corrected(form, rng, 2), "stale", later[1])
    elif scenario == "conflict":
        add(form, "accepted", at)
        add(corrected(form, rng, 1), "rejected", later[0], "revision_conflict")
    elif scenario == "misread_fixed":
        add(misread(form, 1), "quarantined", at, "votes_sum_ne_valid", held=True, paper=form)
        add(dict(corrected(form, rng, 2), terminal_id=ppk_terminal_id(tps.kecamatan)), "accepted", later[0])
    elif scenario == "misread_held":
        add(misread(form, 1), "quarantined", at, "votes_sum_ne_valid", held=True, paper=form)
    elif scenario == "forged":
        add(form, "rejected", at, "bad_signature", key="an-attacker")
        add(form, "accepted", later[0])
    elif scenario == "out_of_scope" and neighbour.tps_id != tps.tps_id:
        add(dict(form, terminal_id=kpps_terminal_id(neighbour.tps_id)), "rejected", at, "terminal_not_authorized")
        add(form, "accepted", later[0])
    elif scenario == "malformed":
        add(form, "rejected", at, "malformed_json", value=encode(form)[:-7])
        add(form, "accepted", later[0])
    else:
        add(form, "accepted", at)
