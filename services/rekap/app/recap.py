"""Use case: the recapitulation of one region and contest (D.Hasil, `rekap report`), as numbers: each child
region (or each TPS of a kecamatan) as a line with the form's sections, the region's total, the progress, the
moment it is of, and a SHA-256 of the table; made from the rows of one snapshot of the hasil views (the port
RecapReadings), drawn elsewhere (rekap.report.render)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from rekap.app.site_rows import VoteRow
from rekap.errors import ConfigError
from rekap.numbers import angka, percent, persen

TURNOUT = "turnout"  # a column computed from the line (voters who voted over registered voters), not read
CHOICES = "choices"  # where the contest's choices stand: a column for each

# The table's columns grouped as KPU's D.Hasil groups its sections: each section's heading, then its columns
# (the hasil views' column, or TURNOUT, or CHOICES, and the heading each gets).
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "I. Data pemilih",
        (
            ("dpt_male", "DPT seluruh TPS L"),
            ("dpt_female", "DPT seluruh TPS P"),
            ("registered_male", "DPT TPS masuk L"),
            ("registered_female", "DPT TPS masuk P"),
        ),
    ),
    (
        "II. Pengguna hak pilih",
        (
            ("voted_dpt_male", "DPT L"),
            ("voted_dpt_female", "DPT P"),
            ("voted_moved_in_male", "DPTb L"),
            ("voted_moved_in_female", "DPTb P"),
            ("voted_added_male", "DPK L"),
            ("voted_added_female", "DPK P"),
            ("voted", "Jumlah"),
            ("disabled_voted_male", "Disabilitas L"),
            ("disabled_voted_female", "Disabilitas P"),
            (TURNOUT, "Partisipasi"),
        ),
    ),
    (
        "III. Surat suara",
        (
            ("ballots_received", "Diterima"),
            ("ballots_used", "Digunakan"),
            ("ballots_damaged", "Rusak"),
            ("ballots_unused", "Tidak digunakan"),
        ),
    ),
    ("IV. Suara sah per pasangan calon", ((CHOICES, ""), ("valid", "Jumlah suara sah"))),
    ("V. Suara tidak sah", (("invalid", "Suara tidak sah"),)),
)
# The numbers a line holds: the hasil views' columns the sections show.
NUMBERS = tuple(name for _, columns in SECTIONS for name, _ in columns if name not in (TURNOUT, CHOICES))
# What the tally/v1 form does not carry, said in the report rather than left to be guessed (or invented).
NOT_CARRIED = (
    "formulir tally/v1 tidak memuat jumlah pemilih terdaftar DPTb dan DPK; yang dimuat hanya pemilih DPTb "
    "dan DPK yang menggunakan hak pilih (bagian II)"
)
LEVEL_NAMES = {"provinsi": "Provinsi", "kabupaten_kota": "Kabupaten/Kota", "kecamatan": "Kecamatan", "tps": "TPS"}
CHILD_LEVEL = {"provinsi": "kabupaten_kota", "kabupaten_kota": "kecamatan", "kecamatan": "tps"}
LEVEL_OF_CODE = {2: "provinsi", 4: "kabupaten_kota", 6: "kecamatan"}
# Who signs a level's recapitulation: the PPK of a kecamatan, the KPU of a kabupaten/kota or province, and
# how many members each has at most (a row each; rows of members it does not have stay blank).
SIGNING_BODY = {"kecamatan": ("PPK", 5), "kabupaten_kota": ("KPU", 5), "provinsi": ("KPU", 7)}


def region_title(level: str, name: str) -> str:
    """A region as the documents name it: "Provinsi Sumatera Selatan", "Kecamatan Ilir Barat II"; a
    kabupaten/kota's name already says which it is ("Kabupaten Ogan Komering Ulu", "Kota Palembang")."""
    return name if level == "kabupaten_kota" else f"{LEVEL_NAMES[level]} {name}"


@dataclass(frozen=True)
class Line:
    """One row: a child region (its TPS counted of expected) or a TPS (its status)."""

    code: str
    name: str
    progress: str  # "12/15" TPS counted of expected for a region; counted / held / missing for a TPS
    numbers: Mapping[str, int | None]  # NUMBERS -> value (None: a TPS not counted)
    votes: Mapping[str, int | None]  # choice -> votes

    @property
    def turnout(self) -> Decimal | None:
        male, female = self.numbers.get("registered_male"), self.numbers.get("registered_female")
        return percent(self.numbers.get("voted"), None if male is None or female is None else male + female)

    def cell(self, column: str) -> str:
        """The line's value of a column (a hasil column, TURNOUT, or a choice), written the Indonesian way."""
        if column == TURNOUT:
            return persen(self.turnout)
        return angka(self.numbers.get(column) if column in NUMBERS else self.votes.get(column))


@dataclass(frozen=True)
class Recap:
    level: str
    region_code: str
    region_name: str
    contest_id: str
    contest_name: str  # the race's name in the master data
    choices: list[tuple[str, str]]  # (choice, candidate name), in ballot order
    lines: list[Line]
    total: Line
    tps_expected: int
    tps_counted: int
    tps_held: int
    taken_at: datetime  # aware, in the region's zone
    zone: str  # WIB, WITA, WIT

    @property
    def child_level(self) -> str:
        return CHILD_LEVEL[self.level]

    @property
    def title(self) -> str:
        return region_title(self.level, self.region_name)

    @property
    def percent_counted(self) -> str:
        return persen(percent(self.tps_counted, self.tps_expected))

    def vote_share(self, choice: str) -> str:
        """The choice's share of the valid votes, in the region."""
        return persen(percent(self.total.votes.get(choice), self.total.numbers.get("valid")))

    def sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Each section's heading and its columns (what a line's `cell` takes, and the column's heading)."""
        choices = [(choice, f"{choice}. {candidate}") for choice, candidate in self.choices]
        return [
            (heading, [c for column in columns for c in (choices if column[0] == CHOICES else [column])])
            for heading, columns in SECTIONS
        ]

    def table(self) -> list[list[str]]:
        """Two heading rows (the sections over their first column, then every column), a row per line, the
        total: what the CSV holds and the digest covers."""
        sections = self.sections()
        columns = [column for _, section in sections for column in section]
        over = [cell for heading, section in sections for cell in [heading] + [""] * (len(section) - 1)]
        titles = [title for _, title in columns]
        rows = [
            [line.code, line.name, line.progress, *[line.cell(c) for c, _ in columns]]
            for line in [*self.lines, self.total]
        ]
        return [
            ["", "", "", *over],
            ["Kode", "Nama", "TPS" if self.child_level == "tps" else "TPS masuk", *titles],
            *rows,
        ]

    def signatories(self) -> tuple[str, list[str]]:
        """Who signs (the body), and the role of each signature's row: its members, then a witness of each
        pasangan calon. The names and signatures are left blank: they are written and signed by hand."""
        body, members = SIGNING_BODY[self.level]
        witnesses = [f"Saksi pasangan calon {choice}" for choice, _ in self.choices if choice.isdigit()]
        return f"{body} {self.title}", ["Ketua", *["Anggota"] * (members - 1), *witnesses]

    def csv_table(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(self.table())
        return out.getvalue()

    def digest(self) -> str:
        """SHA-256 of the table as CSV (UTF-8, one line per row, "\\n" after each): anyone holding the CSV
        recomputes it from the lines between the report's first and second blank lines."""
        return hashlib.sha256(self.csv_table().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RegionSummary:
    """A row of hasil.summary: a region's totals in one contest, of the moment the snapshot was taken."""

    level: str
    region_code: str
    region_name: str
    contest_id: str
    tps_expected: int
    tps_counted: int
    tps_quarantined: int
    counts: dict[str, int]  # every count the view sums (valid, invalid, dpt_male, ..., tps_counted), by column
    zone: str  # WIB, WITA, WIT
    time_zone: str  # the region's clock (Asia/Jakarta, ...)
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class TpsRecap:
    """A row of hasil.tps_status for the recapitulation: a TPS's status in one contest and, counted, its form."""

    tps_id: str
    tps_name: str
    desa_name: str
    status: str  # counted, held, missing
    counts: dict[str, int]  # the form's numbers (every section, valid, invalid, ...) and the TPS's DPT; counted
    votes: dict[str, int]  # choice -> votes; counted


@dataclass(frozen=True)
class RecapRows:
    """What one recapitulation reads, all of one moment: the region's and its children's totals, their votes,
    a kecamatan's TPS (when the children are TPS), and the contest's name (None: a contest of no name)."""

    regions: list[RegionSummary]
    votes: list[VoteRow]
    tps: list[TpsRecap]
    contest_name: str | None


class RecapReadings(Protocol):
    async def recap_rows(self, region_code: str, contest_id: str, level: str, child: str) -> RecapRows:
        """The rows of `region_code` (at `level`) and of its children (at `child`: "tps" reads its TPS)."""
        ...


TPS_STATUS = {"counted": "masuk", "held": "ditahan", "missing": "belum masuk"}


async def read_recap(readings: RecapReadings, region_code: str, contest_id: str) -> Recap:
    """The recapitulation of a region in a contest, of one moment. Raises ConfigError for a region code of
    no level, or a region that does not hold the contest."""
    level = LEVEL_OF_CODE.get(len(region_code))
    if level is None or not region_code.isdigit():
        raise ConfigError(
            f"{region_code!r} is no region code: 2 digits (provinsi), 4 (kabupaten/kota) or 6 (kecamatan)"
        )
    child = CHILD_LEVEL[level]
    rows = await readings.recap_rows(region_code, contest_id, level, child)
    region = next((r for r in rows.regions if r.level == level), None)
    if region is None:
        raise ConfigError(f"no {level} {region_code} holding the contest {contest_id} (see hasil.summary)")
    choices = list(dict.fromkeys((v.choice, v.candidate_name) for v in rows.votes))
    by_region: dict[str, dict[str, int]] = {}
    for v in rows.votes:
        by_region.setdefault(v.region_code, {})[v.choice] = v.votes
    if child == "tps":
        lines = [_tps_line(r) for r in rows.tps]
    else:
        lines = [_region_line(r, by_region.get(r.region_code, {})) for r in rows.regions if r.level == child]
    return Recap(
        level=level,
        region_code=region_code,
        region_name=region.region_name,
        contest_id=contest_id,
        contest_name=rows.contest_name or contest_id,
        choices=choices,
        lines=lines,
        total=_region_line(region, by_region.get(region_code, {})),
        tps_expected=region.tps_expected,
        tps_counted=region.tps_counted,
        tps_held=region.tps_quarantined,
        taken_at=region.taken_at.astimezone(ZoneInfo(region.time_zone)),
        zone=region.zone,
    )


def _region_line(row: RegionSummary, votes: Mapping[str, int]) -> Line:
    return Line(
        row.region_code,
        row.region_name,
        f"{angka(row.tps_counted)}/{angka(row.tps_expected)}",
        {name: row.counts[name] for name in NUMBERS},
        votes,
    )


def _tps_line(row: TpsRecap) -> Line:
    counted = row.status == "counted"
    numbers: dict[str, int | None] = {name: row.counts.get(name) if counted else None for name in NUMBERS}
    numbers["dpt_male"], numbers["dpt_female"] = row.counts["dpt_male"], row.counts["dpt_female"]
    if counted:
        numbers["voted"] = sum(
            row.counts[f"voted_{kind}_{sex}"] for kind in ("dpt", "moved_in", "added") for sex in ("male", "female")
        )
    votes = row.votes if counted else {}
    return Line(row.tps_id, f"{row.tps_name}, {row.desa_name}", TPS_STATUS[row.status], numbers, votes)
