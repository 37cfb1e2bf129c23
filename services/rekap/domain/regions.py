"""The administrative hierarchy and its KPU-style codes (no dots): 2, 4, 6, 10 and 13 digits.

A code begins with its parent's code, so the kecamatan of a TPS is the first six digits of its id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_REGISTERED_PER_TPS = 600  # Pilkada 2024


class Level(StrEnum):
    PROVINSI = "provinsi"
    KABUPATEN_KOTA = "kabupaten_kota"
    KECAMATAN = "kecamatan"
    DESA = "desa"
    TPS = "tps"


CODE_LENGTH = {Level.PROVINSI: 2, Level.KABUPATEN_KOTA: 4, Level.KECAMATAN: 6, Level.DESA: 10, Level.TPS: 13}
PARENT = {
    Level.KABUPATEN_KOTA: Level.PROVINSI,
    Level.KECAMATAN: Level.KABUPATEN_KOTA,
    Level.DESA: Level.KECAMATAN,
    Level.TPS: Level.DESA,
}
_DIGITS = re.compile(r"[0-9]+")


def is_code(code: str, level: Level) -> bool:
    return len(code) == CODE_LENGTH[level] and _DIGITS.fullmatch(code) is not None


def ancestor(code: str, level: Level) -> str:
    """The code of the region at `level` that contains the region `code`."""
    return code[: CODE_LENGTH[level]]


def kpu_code(dotted: str) -> str:
    """The Ministry of Home Affairs spelling `16.71.01.1001` in KPU style: `1671011001`."""
    return dotted.replace(".", "")


@dataclass(frozen=True, slots=True)
class Tps:
    """A polling station: its 13-digit id and the registered voters (DPT) the master data gives it."""

    tps_id: str
    registered_male: int
    registered_female: int

    @property
    def kecamatan(self) -> str:
        return ancestor(self.tps_id, Level.KECAMATAN)

    @property
    def registered(self) -> int:
        return self.registered_male + self.registered_female
