"""Contests (the governor race of a province, the regent or mayor race of a kabupaten/kota) and choices."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rekap.domain.regions import Level, ancestor

KOLOM_KOSONG = "kolom_kosong"  # the empty column, a valid choice where a single pair runs


class ContestKind(StrEnum):
    PKWKP = "pkwkp"  # Pemilihan Gubernur: the province
    PKWKK = "pkwkk"  # Pemilihan Bupati / Wali Kota: the kabupaten/kota

    @property
    def level(self) -> Level:
        return Level.PROVINSI if self is ContestKind.PKWKP else Level.KABUPATEN_KOTA


def contest_id(kind: ContestKind, region_code: str) -> str:
    return f"{kind.value}-{region_code}"


@dataclass(frozen=True, slots=True)
class Contest:
    contest_id: str
    kind: ContestKind
    region_code: str  # the province (pkwkp) or kabupaten/kota (pkwkk) it covers
    name: str
    choices: frozenset[str]  # nomor urut as strings, or {"1", "kolom_kosong"} for a single pair

    def is_held_at(self, tps_id: str) -> bool:
        return ancestor(tps_id, self.kind.level) == self.region_code


def choices_problem(choices: list[str]) -> str | None:
    """What is wrong with a contest's list of choices, or None: nomor urut 1..n, and the kolom
    kosong exactly when a single pair runs."""
    pairs = sorted((c for c in choices if c != KOLOM_KOSONG), key=lambda c: (len(c), c))
    if len(set(choices)) != len(choices):
        return "a choice is listed twice"
    if not pairs:
        return "a contest needs at least one pair"
    if pairs != [str(n) for n in range(1, len(pairs) + 1)]:
        return f"nomor urut must run 1..n without gaps, found {', '.join(pairs) or 'none'}"
    if (KOLOM_KOSONG in choices) != (len(pairs) == 1):
        return "the kolom kosong is a choice exactly when a single pair runs"
    return None
