"""The revision rules of CONTRACT.md: which form decides a (TPS, contest), and what a new one is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class CurrentForm:
    """The form that decides a (TPS, contest) now: the latest recorded revision, counted or held."""

    revision: int
    digest: bytes  # TallyV1.content_digest()


class RevisionVerdict(StrEnum):
    NEWER = "newer"  # replaces the current form (or is the first): it is counted or held
    DUPLICATE = "duplicate"  # the current revision again, same numbers: already counted once
    STALE = "stale"  # older than the current revision
    CONFLICT = "revision_conflict"  # the current revision again with other numbers


def judge_revision(current: CurrentForm | None, revision: int, digest: bytes) -> RevisionVerdict:
    if current is None or revision > current.revision:
        return RevisionVerdict.NEWER
    if revision < current.revision:
        return RevisionVerdict.STALE
    if digest == current.digest:
        return RevisionVerdict.DUPLICATE
    return RevisionVerdict.CONFLICT
