"""A region named by a person: well formed, and in the master data."""

from __future__ import annotations

from typing import Protocol

from rekap.domain.regions import CODE_LENGTH, Level, is_code
from rekap.errors import RekapError, UsageError


class Regions(Protocol):
    async def region_exists(self, level: Level, code: str) -> bool: ...


def region_code(text: str, level: Level) -> str:
    """A region's code as a person typed it: its digits, or a UsageError (the text not echoed whole)."""
    if not is_code(text, level):
        shown = text if len(text) <= 20 else f"{text[:20]}..."
        raise UsageError(f"{shown!r}: a {named(level)} is {CODE_LENGTH[level]} digits")
    return text


async def require_region(regions: Regions, level: Level, code: str) -> None:
    """Refuse a well-formed code that names no region of the master data (a typo would answer "nothing")."""
    if not await regions.region_exists(level, code):
        raise RekapError(f"{named(level)} {code} is not in the master data")


def named(level: Level) -> str:
    return "TPS" if level is Level.TPS else level.value.replace("_", "/")
