"""The rows of one snapshot the public site is built from, as the site's reads (adapters/postgres/site.py) hand
them out and its pages (rekap.site) read them: one frozen dataclass per read, a field per column. VoteRow is
also what the recapitulation (app/recap.py) and the night's check read of hasil.votes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from rekap.domain.tally import SECTION_NAMES

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A form's numbers as a TPS page shows them: its sections, the ballots used among the ballots' lines.
FORM_NUMBERS = (*SECTION_NAMES[:-2], "ballots_used", *SECTION_NAMES[-2:])


_Row = TypeVar("_Row", bound="DataclassInstance")


def _pickled_as_values(cls: type[_Row]) -> type[_Row]:
    """A row a build hands to its drawing processes by the ten thousand (Sumatera Selatan's: 26,412 TPS rows),
    pickled as its values in order and made again by its constructor: dataclasses' own way (field by field, by
    name, through `fields`) takes twice the time to pickle and some 30% more to read back."""
    values = attrgetter(*(f.name for f in fields(cls)))

    def reduce(self: object) -> tuple[type[_Row], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce  # type: ignore[method-assign]
    return cls


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """A region's numbers in one race (hasil.summary)."""

    level: str  # provinsi, kabupaten_kota, kecamatan
    region_code: str
    region_name: str
    contest_id: str
    valid: int
    invalid: int
    tps_expected: int
    tps_counted: int
    tps_quarantined: int
    percent_counted: Decimal | None
    dpt: int
    registered: int
    voted: int
    turnout_percent: Decimal | None
    zone: str  # WIB, WITA, WIT
    time_zone: str  # Asia/Jakarta, ...


@dataclass(frozen=True, slots=True)
class VoteRow:
    """A choice's votes in a region and race (hasil.votes)."""

    level: str
    region_code: str
    contest_id: str
    choice: str
    candidate_name: str
    votes: int
    percent_of_valid: Decimal | None


@dataclass(frozen=True, slots=True)
class RegionRow:
    level: str
    region_code: str
    region_name: str


@dataclass(frozen=True, slots=True)
class ContestRow:
    contest_id: str
    kind: str  # pkwkp (a governor's race), pkwkk (a regent's or mayor's)
    region_code: str  # the area it is held in
    name: str


@dataclass(frozen=True, slots=True)
class ChoiceRow:
    contest_id: str
    choice: str
    candidate_name: str


@dataclass(frozen=True, slots=True)
class CurveRow:
    """TPS counted so far in a provinsi or kabupaten/kota and race, at a minute of the zone's clock."""

    level: str
    region_code: str
    contest_id: str
    minute_local: datetime
    tps_counted_so_far: int


@_pickled_as_values
@dataclass(frozen=True, slots=True)
class TpsRow:
    """A TPS in one race (hasil.tps_status), with its deciding form's numbers: all None without a form."""

    kecamatan_code: str
    desa_name: str
    tps_id: str
    tps_name: str
    contest_id: str
    status: str  # counted, held, missing
    revision: int | None
    valid: int | None
    invalid: int | None
    votes: dict[str, int] | None  # choice -> votes
    reasons: list[str] | None  # why it is held, in order
    dpt_male: int  # the master data's
    dpt_female: int
    terminal_id: str | None
    zone: str
    first_counted_minute: str | None  # 2024-11-27T14:03, in the zone's time
    updated_minute: str | None
    numbers: dict[str, int] | None  # the form's sections, by FORM_NUMBERS' names and in their order


@dataclass(frozen=True, slots=True)
class FormRow:
    """A TPS's deciding form in one race, as its terminal signed it."""

    tps_id: str
    contest_id: str
    value: bytes  # the record's exact bytes
    signature: str | None  # as stored (base64)
    public_key: str  # the terminal's (base64; "" when none is registered)


@_pickled_as_values
@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A record received about a TPS, and what became of it (hasil.history)."""

    tps_id: str
    contest_id: str | None  # None: the record could not be read that far
    revision: int | None
    outcome: str  # accepted, quarantined, duplicate, stale, rejected
    reason: str | None
    terminal_id: str | None
    received_minute: str | None  # 2024-11-27T14:03, in the zone's time (None: a province without one)
