"""The photos of the forms' sheets: where each is kept (by its digest), what the photo consumer records of
each record it reads, and what the site, the review list and the audit bundle read back.

Every photo received is kept, by digest: a stored one under `ab/DIGEST.jpg` (or .png) with its thumbnail
`ab/DIGEST.kecil.jpg`, a refused one under `ditolak/DIGEST` (no extension: nothing serves it as an image).
The store is private; the public site copies in only the photos a counted or held form names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rekap.domain.photos import EXTENSIONS, Inspected

REFUSED_FOLDER = "ditolak"


def stored_name(sha256: str, media_type: str) -> str:
    return f"{sha256[:2]}/{sha256}.{EXTENSIONS[media_type]}"


def thumbnail_name(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}.kecil.jpg"


def refused_name(sha256: str) -> str:
    return f"{REFUSED_FOLDER}/{sha256}"


class PhotoStore(Protocol):
    """Where photos are kept, by name (see above). Writing a name twice with the same bytes changes nothing."""

    async def put(self, name: str, data: bytes) -> None: ...

    async def get(self, name: str) -> bytes | None: ...

    async def copy_to(self, name: str, target: Path) -> bool:
        """Write the photo to `target` (a link where the store can); False if it has no such photo."""
        ...

    def location(self, name: str) -> str:
        """Where an operator finds it: a path, or a URL."""
        ...


@dataclass(frozen=True, slots=True)
class PhotoRecord:
    """A record of the photo topic, and what became of it."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    inspected: Inspected
    outcome: str  # stored, duplicate, refused

    @property
    def reason(self) -> str | None:
        reason = self.inspected.reason
        return reason.value if reason is not None else None


def outcome_of(inspected: Inspected, known: str | None) -> str:
    """stored: kept now; duplicate: kept already, as stored (`known`: the status the index holds); refused."""
    if not inspected.stored:
        return "refused"
    return "duplicate" if known == "stored" else "stored"


async def keep(store: PhotoStore, inspected: Inspected, value: bytes | None) -> None:
    """Write a photo's bytes where its verdict says (its thumbnail too, when stored)."""
    if value is None or inspected.sha256 is None:
        return
    if inspected.stored:
        assert inspected.media_type is not None
        await store.put(stored_name(inspected.sha256, inspected.media_type), value)
        if inspected.thumbnail is not None:
            await store.put(thumbnail_name(inspected.sha256), inspected.thumbnail)
    else:
        await store.put(refused_name(inspected.sha256), value)


@dataclass(frozen=True, slots=True)
class FormPhoto:
    """A photo a deciding form names, and whether it is in (hasil.form_photo)."""

    tps_id: str
    contest_id: str
    revision: int
    form_status: str  # counted, held
    sheet: int
    sha256: str
    bytes: int
    media_type: str
    photo_status: str  # received, missing, refused, mismatch
    refused_reason: str | None
    width: int | None
    height: int | None

    @property
    def published(self) -> bool:
        return self.photo_status == "received"

    @property
    def name(self) -> str:
        return stored_name(self.sha256, self.media_type)

    @property
    def thumbnail(self) -> str:
        return thumbnail_name(self.sha256)
