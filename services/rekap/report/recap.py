"""The recapitulation of one region and contest (D.Hasil), as numbers: each child region (or each TPS of a
kecamatan) as a line with the form's sections, the region's total, the progress, the moment it is of, and
a SHA-256 of the table. Pure: the snapshot is read elsewhere (adapters/postgres/reports.py) and drawn
elsewhere (render.py)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

# The table's number columns, in the order of the form: the hasil views' names, and the heading each gets.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("dpt_male", "DPT L"), ("dpt_female", "DPT P"),
    ("registered_male", "Terdaftar L"), ("registered_female", "Terdaftar P"),
    ("voted_dpt_male", "Hadir DPT L"), ("voted_dpt_female", "Hadir DPT P"),
    ("voted_moved_in_male", "Hadir DPTb L"), ("voted_moved_in_female", "Hadir DPTb P"),
    ("voted_added_male", "Hadir DPK L"), ("voted_added_female", "Hadir DPK P"),
    ("voted", "Hadir jumlah"),
    ("disabled_voted_male", "Disabilitas L"), ("disabled_voted_female", "Disabilitas P"),
    ("ballots_received", "Surat suara diterima"), ("ballots_used", "Digunakan"),
    ("ballots_damaged", "Rusak"), ("ballots_unused", "Tidak digunakan"),
    ("valid", "Suara sah"), ("invalid", "Tidak sah"),
)  # fmt: skip
LEVEL_NAMES = {"provinsi": "Provinsi", "kabupaten_kota": "Kabupaten/Kota", "kecamatan": "Kecamatan", "tps": "TPS"}
CHILD_LEVEL = {"provinsi": "kabupaten_kota", "kabupaten_kota": "kecamatan", "kecamatan": "tps"}
LEVEL_OF_CODE = {2: "provinsi", 4: "kabupaten_kota", 6: "kecamatan"}


@dataclass(frozen=True)
class Line:
    """One row: a child region (its TPS counted of expected) or a TPS (its status)."""

    code: str
    name: str
    progress: str  # "12/15" TPS counted of expected for a region; counted / held / missing for a TPS
    numbers: Mapping[str, int | None]  # SECTIONS' names -> value (None: a TPS not counted)
    votes: Mapping[str, int | None]  # choice -> votes

    @property
    def turnout(self) -> str:
        voted, registered = self.numbers.get("voted"), _registered(self.numbers)
        return _percent(voted, registered)


@dataclass(frozen=True)
class Recap:
    level: str
    region_code: str
    region_name: str
    contest_id: str
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
    def percent_counted(self) -> str:
        return _percent(self.tps_counted, self.tps_expected)

    def vote_share(self, choice: str) -> str:
        """The choice's share of the valid votes, in the region."""
        return _percent(self.total.votes.get(choice), self.total.numbers.get("valid"))

    def table(self) -> list[list[str]]:
        """The heading, a row per line, the total: what the CSV holds and the digest covers."""
        heading = ["Kode", "Nama", "TPS" if self.child_level == "tps" else "TPS masuk",
                   *[title for _, title in SECTIONS], "Partisipasi %",
                   *[f"{choice}. {candidate}" for choice, candidate in self.choices]]  # fmt: skip
        return [heading, *[self._row(line) for line in [*self.lines, self.total]]]

    def _row(self, line: Line) -> list[str]:
        return [line.code, line.name, line.progress, *[_text(line.numbers.get(name)) for name, _ in SECTIONS],
                line.turnout, *[_text(line.votes.get(choice)) for choice, _ in self.choices]]  # fmt: skip

    def csv_table(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(self.table())
        return out.getvalue()

    def digest(self) -> str:
        """SHA-256 of the table as CSV (UTF-8, one line per row, "\\n" after each): anyone holding the CSV
        recomputes it from the lines after the report's blank line."""
        return hashlib.sha256(self.csv_table().encode()).hexdigest()


def _registered(numbers: Mapping[str, int | None]) -> int | None:
    male, female = numbers.get("registered_male"), numbers.get("registered_female")
    return None if male is None or female is None else male + female


def _percent(part: int | None, whole: int | None) -> str:
    """Two decimals, halves away from zero: as PostgreSQL's round() gives the views' percentages."""
    if part is None or not whole:
        return ""
    return str((Decimal(100 * part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _text(value: int | None) -> str:
    return "" if value is None else str(value)
