"""The revision rules: which form decides a (TPS, contest), and what a new one is.

Forms are ordered by who sent them, then by revision: a PPK operator's form (a terminal whose scope
is the kecamatan) supersedes any KPPS form of a TPS of that kecamatan, whatever its revision, so a
KPPS terminal can never lock its TPS against correction (say with revision 2,147,483,647); among
forms of one authority the higher revision decides. A revision more than MAX_REVISION_STEP above the
last of its authority (or above 0) is held for review, not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

MAX_REVISION_STEP = 100


class Authority(IntEnum):
    """Who sent a form; a higher authority's form supersedes a lower one's. Stored as its number."""

    KPPS = 1  # the TPS's own terminal
    PPK = 2  # the kecamatan's operator


@dataclass(frozen=True, slots=True)
class CurrentForm:
    """The form that decides a (TPS, contest) now: the latest recorded revision, counted or held."""

    revision: int
    digest: bytes  # TallyV1.content_digest()
    authority: Authority = Authority.KPPS


class RevisionVerdict(StrEnum):
    NEWER = "newer"  # replaces the current form (or is the first): it is counted or held
    DUPLICATE = "duplicate"  # the current revision again, same numbers: already counted once
    STALE = "stale"  # older than the current revision, or from a lower authority
    CONFLICT = "revision_conflict"  # the current revision again with other numbers


def judge_revision(
    current: CurrentForm | None, revision: int, digest: bytes, authority: Authority = Authority.KPPS
) -> RevisionVerdict:
    if current is None:
        return RevisionVerdict.NEWER
    if authority != current.authority:
        return RevisionVerdict.NEWER if authority > current.authority else RevisionVerdict.STALE
    if revision > current.revision:
        return RevisionVerdict.NEWER
    if revision < current.revision:
        return RevisionVerdict.STALE
    if digest == current.digest:
        return RevisionVerdict.DUPLICATE
    return RevisionVerdict.CONFLICT


def is_revision_jump(current: CurrentForm | None, revision: int, authority: Authority = Authority.KPPS) -> bool:
    """Whether a newer form skips implausibly many revisions (held for review, then)."""
    last = current.revision if current is not None and current.authority == authority else 0
    return revision > last + MAX_REVISION_STEP
