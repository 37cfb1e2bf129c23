"""The pages of the public site, as data: what each page shows (the same numbers its JSON file holds),
drawn from the rows of one snapshot. Pure: no I/O, no rendering.

Paths, relative to the site's folder (every link between pages is relative, so the folder can be served
from any address):
    index.html                                   each province's headline race (candidates, votes, shares,
                                                 progress), its other races, the audit bundle
    wilayah/CODE/CONTEST.html (.json)            a provinsi, kabupaten/kota, kecamatan or desa/kelurahan in
                                                 one race (a desa's page lists its TPS)
    tps/KECAMATAN/TPS.html (.json)               a TPS: each race's deciding form (every section), its exact
                                                 signed bytes (base64, a download in the page), signature,
                                                 terminal's key, and every record received for it
    assets/site.css, assets/site.js              the style and the (optional) script of every page
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson

from rekap.app.photos import FormPhoto
from rekap.app.site_rows import (
    FORM_NUMBERS,
    ChoiceRow,
    ContestRow,
    CurveRow,
    FormRow,
    HistoryRow,
    RegionRow,
    SummaryRow,
    TpsRow,
    VoteRow,
)
from rekap.domain.photos import THUMBNAIL_SIZE
from rekap.domain.review import alasan, jelaskan
from rekap.domain.tally import SECTION_NAMES
from rekap.numbers import percent

LEVELS = ("provinsi", "kabupaten_kota", "kecamatan", "desa")
PHOTO_FOLDER = "foto"  # the photos of the C.Hasil the counted and held forms name, by digest
LEVEL_NAMES = {
    "provinsi": "Provinsi",
    "kabupaten_kota": "Kabupaten/Kota",
    "kecamatan": "Kecamatan",
    "desa": "Desa/Kelurahan",
}
TITLED = {"provinsi": "Provinsi ", "kabupaten_kota": "", "kecamatan": "Kecamatan ", "desa": "Desa/Kelurahan "}
CODE_DIGITS = {"provinsi": 2, "kabupaten_kota": 4, "kecamatan": 6, "desa": 10}
CHILD = {"provinsi": "kabupaten_kota", "kabupaten_kota": "kecamatan"}  # a kecamatan's desa: from its TPS rows
OUTCOMES = {
    "accepted": "diterima",
    "quarantined": "ditahan untuk diperiksa",
    "duplicate": "duplikat (sudah ada)",
    "stale": "revisi lama (diabaikan)",
    "rejected": "ditolak",
}  # a record's outcome, as a TPS page says it


@dataclass(frozen=True)
class Page:
    path: str  # without suffix: PATH.html and PATH.json are written
    kind: str  # "index", "region" (a desa/kelurahan's too) or "tps": what draws it (render.DRAW)
    data: dict[str, Any]

    @cached_property
    def json(self) -> bytes:
        """The page's numbers as its JSON file holds them (UTF-8, without when it was written)."""
        return orjson.dumps(self.data)

    @property
    def digest(self) -> str:
        """Of the page's numbers: a page whose digest did not change is not written again."""
        return hashlib.sha256(self.json).hexdigest()[:24]


@dataclass(frozen=True)
class SignedForm:
    """A TPS's deciding form for one race, as its terminal signed it."""

    value: bytes
    signature: str | None
    public_key: str


@dataclass
class Snapshot:
    """The rows of one snapshot that every build reads whole (a few per region and race)."""

    summary: list[SummaryRow]
    votes: list[VoteRow]
    regions: list[RegionRow]
    contests: list[ContestRow]
    choices: list[ChoiceRow]
    curves: list[CurveRow]
    _by_key: dict[tuple[str, str, str], SummaryRow] = field(init=False, repr=False)
    _votes: dict[tuple[str, str, str], dict[str, VoteRow]] = field(init=False, repr=False)
    _names: dict[tuple[str, str], str] = field(init=False, repr=False)
    _choices: dict[str, list[ChoiceRow]] = field(init=False, repr=False)
    _curves: dict[tuple[str, str, str], list[tuple[str, int]]] = field(init=False, repr=False)
    _contests: dict[str, ContestRow] = field(init=False, repr=False)
    _by_area: dict[str, list[ContestRow]] = field(init=False, repr=False)
    _children: dict[tuple[str, str, str], list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Indexes, so that each page costs what it shows, not what the whole country holds.
        self._contests = {c.contest_id: c for c in self.contests}
        self._by_area = defaultdict(list)
        for contest in self.contests:
            self._by_area[contest.region_code].append(contest)
        self._by_key = {(r.level, r.region_code, r.contest_id): r for r in self.summary}
        self._children = defaultdict(list)  # (child level, parent code, race) -> codes, in order
        for level, code, contest_id in sorted(self._by_key):
            parent = next((p for p, c in CHILD.items() if c == level), None)
            if parent is not None:
                self._children[(level, code[: CODE_DIGITS[parent]], contest_id)].append(code)
        self._votes = defaultdict(dict)
        for v in self.votes:
            self._votes[(v.level, v.region_code, v.contest_id)][v.choice] = v
        self._names = {(r.level, r.region_code): r.region_name for r in self.regions}
        self._choices = defaultdict(list)
        for choice in self.choices:
            self._choices[choice.contest_id].append(choice)
        self._curves = defaultdict(list)
        for c in self.curves:
            key = (c.level, c.region_code, c.contest_id)
            self._curves[key].append((c.minute_local.isoformat(timespec="minutes"), c.tps_counted_so_far))

    def races(self, level: str, code: str) -> list[ContestRow]:
        """The races whose area holds this region (a kabupaten/kota's: its province's and its own)."""
        inside = [c for digits in (2, 4, 6) if digits <= len(code) for c in self._by_area.get(code[:digits], ())]
        return [c for c in inside if self.has(level, code, c.contest_id)]

    def children(self, level: str, code: str, contest_id: str) -> list[tuple[str, str]]:
        """(level, code) of the regions one level down that hold this race, by code."""
        child = CHILD.get(level)
        if child is None:
            return []
        return [(child, c) for c in self._children.get((child, code, contest_id), [])]

    def page_race(self, level: str, code: str, contest_id: str) -> str | None:
        """The race whose page of this region a link leads to: this race if it has one here, else the widest
        race held here (None if none is: a region without TPS)."""
        if level == "desa":  # a desa has a page in every race held at its kecamatan
            return self.page_race("kecamatan", code[:6], contest_id)
        races = [c.contest_id for c in self.races(level, code)]
        return contest_id if contest_id in races else next(iter(races), None)

    def has(self, level: str, code: str, contest_id: str) -> bool:
        """Whether the race is held in this region (it has TPS expected there)."""
        return (level, code, contest_id) in self._by_key

    def choices_of(self, contest_id: str) -> list[ChoiceRow]:
        return self._choices[contest_id]

    def contest_name(self, contest_id: str) -> str:
        return self._contests[contest_id].name

    def contest_area(self, contest_id: str) -> str:
        """The code of the region the race is held in (2 digits: a province's)."""
        return self._contests[contest_id].region_code

    def name(self, level: str, code: str) -> str:
        return self._names.get((level, code), code)

    def numbers(self, level: str, code: str, contest_id: str) -> dict[str, Any]:
        row = self._by_key[(level, code, contest_id)]
        return {
            "tps_expected": row.tps_expected,
            "tps_counted": row.tps_counted,
            "tps_quarantined": row.tps_quarantined,
            "percent_counted": number(row.percent_counted),
            "dpt": row.dpt,
            "registered": row.registered,
            "voted": row.voted,
            "turnout_percent": number(row.turnout_percent),
            "valid": row.valid,
            "invalid": row.invalid,
        }

    def zone(self, level: str, code: str, contest_id: str) -> str:
        return self._by_key[(level, code, contest_id)].zone

    def time_zones(self) -> dict[str, str]:
        """Each zone's name as the pages say it (WIB, WITA, WIT) -> its time zone, as the database holds them."""
        return {row.zone: row.time_zone for row in self.summary}

    def vote_lines(self, level: str, code: str, contest_id: str) -> list[dict[str, Any]]:
        """Every choice of the race, with its votes here (0 before any) and share of the valid votes."""
        counted = self._votes.get((level, code, contest_id), {})
        lines = []
        for choice in self._choices[contest_id]:
            row = counted.get(choice.choice)
            lines.append(
                {
                    "choice": choice.choice,
                    "candidate_name": choice.candidate_name,
                    "votes": row.votes if row else 0,
                    "percent_of_valid": number(row.percent_of_valid) if row else None,
                }
            )
        return lines

    def curve(self, level: str, code: str, contest_id: str) -> list[tuple[str, int]]:
        return self._curves.get((level, code, contest_id), [])


def number(value: Decimal | None) -> float | None:
    """A view's number as JSON has it (numeric columns come as Decimal)."""
    return None if value is None else float(value)


def region_path(code: str, contest_id: str) -> str:
    return f"wilayah/{code}/{contest_id}"


def tps_path(tps_id: str) -> str:
    return f"tps/{tps_id[:6]}/{tps_id}"


def relative(from_path: str, to_path: str) -> str:
    """A link from one page to another (both relative to the site's folder)."""
    depth = from_path.count("/")
    return "../" * depth + to_path


def breadcrumb(snapshot: Snapshot, level: str, code: str, contest_id: str, here: str) -> list[dict[str, str]]:
    """The regions above this one, from the top, each linked: to its page in the same race, or, where that
    race has none (a regent's race at the province), to its page in the widest race held there."""
    trail = []
    for upper in LEVELS[: LEVELS.index(level)]:
        upper_code = code[: CODE_DIGITS[upper]]
        race = snapshot.page_race(upper, upper_code, contest_id)
        if race is not None:
            title = TITLED[upper] + snapshot.name(upper, upper_code)
            trail.append({"title": title, "href": relative(here, region_path(upper_code, race) + ".html")})
    return trail


def region_page(
    snapshot: Snapshot, level: str, code: str, contest: ContestRow, tps_rows: list[TpsRow] | None = None
) -> Page:
    """A region in one race: its numbers, its votes, the regions below (for a kecamatan, its desa/kelurahan,
    summed from `tps_rows`: its TPS's, in order)."""
    contest_id = contest.contest_id
    path = region_path(code, contest_id)
    here = path + ".html"
    children = []
    for child_level, child_code in snapshot.children(level, code, contest_id):
        lines = snapshot.vote_lines(child_level, child_code, contest_id)
        children.append(
            {
                "code": child_code,
                "name": snapshot.name(child_level, child_code),
                "href": relative(here, region_path(child_code, contest_id) + ".html"),
                **snapshot.numbers(child_level, child_code, contest_id),
                "votes": {line["choice"]: line["votes"] for line in lines},
            }
        )
    curve = snapshot.curve(level, code, contest_id)
    if tps_rows is not None:
        mine = [row for row in tps_rows if row.contest_id == contest_id]
        for desa, rows in _by_desa(mine).items():
            summary, votes = tps_totals(rows)
            votes = {c.choice: votes.get(c.choice, 0) for c in snapshot.choices_of(contest_id)}
            children.append(
                {
                    "code": desa,
                    "name": rows[0].desa_name,
                    "votes": votes,
                    **summary,
                    "href": relative(here, region_path(desa, contest_id) + ".html"),
                }
            )
        curve = kecamatan_curve([_tps_line(row, here) for row in mine])
    data = _region_data(snapshot, level, code, contest, name=snapshot.name(level, code), here=here)
    data |= {
        "zone": snapshot.zone(level, code, contest_id),
        "races": [
            {
                "contest_id": c.contest_id,
                "name": c.name,
                "current": c.contest_id == contest_id,
                "href": relative(here, region_path(code, c.contest_id) + ".html"),
            }
            for c in snapshot.races(level, code)
        ],
        "summary": snapshot.numbers(level, code, contest_id),
        "votes": snapshot.vote_lines(level, code, contest_id),
        "children_level": LEVEL_NAMES["desa" if tps_rows is not None else CHILD.get(level, "")] if children else "",
        "children": children,
        "curve": curve,
    }
    return Page(path, "region", data)


def desa_page(snapshot: Snapshot, code: str, contest: ContestRow, tps_rows: list[TpsRow]) -> Page:
    """A desa/kelurahan in one race: its numbers and votes summed from its TPS (`tps_rows`, in order), and each
    TPS's line."""
    contest_id = contest.contest_id
    path = region_path(code, contest_id)
    here = path + ".html"
    summary, votes = tps_totals(tps_rows)
    tps = [_tps_line(row, here) for row in tps_rows]
    data = _region_data(snapshot, "desa", code, contest, name=tps_rows[0].desa_name, here=here)
    data |= {
        "zone": tps_rows[0].zone,
        "races": [
            {
                "contest_id": c.contest_id,
                "name": c.name,
                "current": c.contest_id == contest_id,
                "href": relative(here, region_path(code, c.contest_id) + ".html"),
            }
            for c in snapshot.races("kecamatan", code[:6])
        ],
        "summary": summary,
        "votes": [
            {
                **line,
                "votes": votes.get(line["choice"], 0),
                "percent_of_valid": _percent(votes.get(line["choice"], 0), summary["valid"]),
            }
            for line in (
                {"choice": c.choice, "candidate_name": c.candidate_name} for c in snapshot.choices_of(contest_id)
            )
        ],
        "children_level": "",
        "children": [],
        "curve": kecamatan_curve(tps),
        "tps": tps,
    }
    return Page(path, "region", data)


def _region_data(
    snapshot: Snapshot, level: str, code: str, contest: ContestRow, *, name: str, here: str
) -> dict[str, Any]:
    return {
        "level": level,
        "level_name": LEVEL_NAMES[level],
        "code": code,
        "name": name,
        "title": TITLED[level] + name,
        "contest": {"contest_id": contest.contest_id, "name": contest.name},
        "breadcrumb": breadcrumb(snapshot, level, code, contest.contest_id, here),
        "home": relative(here, "index.html"),
    }


def _by_desa(rows: Iterable[TpsRow]) -> dict[str, list[TpsRow]]:
    """TPS rows by their desa/kelurahan (the first 10 digits of a TPS's code), in order."""
    out: dict[str, list[TpsRow]] = defaultdict(list)
    for row in rows:
        out[row.tps_id[:10]].append(row)
    return out


VOTED = tuple(name for name in SECTION_NAMES if name.startswith("voted_"))  # DPT, DPTb, DPK; both sexes


def tps_totals(rows: Iterable[TpsRow]) -> tuple[dict[str, Any], dict[str, int]]:
    """A few TPS's numbers summed as hasil.summary sums a region's (the counted forms', the DPT of every TPS),
    and their votes by choice."""
    rows = list(rows)
    counted = [row for row in rows if row.status == "counted"]
    forms = [row.numbers for row in counted if row.numbers is not None]  # (every counted TPS has its form)
    registered = sum(n["registered_male"] + n["registered_female"] for n in forms)
    voted = sum(n[key] for n in forms for key in VOTED)
    valid = sum(row.valid or 0 for row in counted)
    votes: dict[str, int] = defaultdict(int)
    for row in counted:
        for choice, count in (row.votes or {}).items():
            votes[choice] += count
    summary = {
        "tps_expected": len(rows),
        "tps_counted": len(counted),
        "tps_quarantined": sum(row.status == "held" for row in rows),
        "percent_counted": _percent(len(counted), len(rows)),
        "dpt": sum(row.dpt_male + row.dpt_female for row in rows),
        "registered": registered,
        "voted": voted,
        "turnout_percent": _percent(voted, registered),
        "valid": valid,
        "invalid": sum(row.invalid or 0 for row in counted),
    }
    return summary, dict(votes)


def _percent(part: int, whole: int) -> float | None:
    """As the views round it (see rekap.numbers.percent), as JSON holds it."""
    share = percent(part, whole)
    return None if share is None else float(share)


def _tps_line(row: TpsRow, here: str) -> dict[str, Any]:
    return {
        "tps_id": row.tps_id,
        "name": row.tps_name,
        "desa": row.desa_name,
        "status": row.status,
        "revision": row.revision,
        "valid": row.valid,
        "invalid": row.invalid,
        "votes": row.votes or {},
        "first_counted": row.first_counted_minute,
        "href": relative(here, tps_path(row.tps_id) + ".html"),
    }


def kecamatan_curve(tps_lines: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """TPS counted so far, per minute, from when each was first counted."""
    per_minute: dict[str, int] = defaultdict(int)
    for line in tps_lines:
        if line["first_counted"] is not None and line["status"] == "counted":
            per_minute[line["first_counted"]] += 1
    so_far, curve = 0, []
    for minute in sorted(per_minute):
        so_far += per_minute[minute]
        curve.append((minute, so_far))
    return curve


def tps_page(
    snapshot: Snapshot,
    rows: list[TpsRow],
    forms: Mapping[str, SignedForm],
    history: Iterable[HistoryRow] = (),
    photos: Iterable[FormPhoto] = (),
) -> Page:
    """A TPS: per race its status, the deciding form's numbers (every section of the C.Hasil), why it is held
    (in its own numbers), revision, terminal, times, the photos of the C.Hasil the form names (`photos`), the
    signed form to download (`forms`: by contest), and every record received for it (`history`: in the order
    received)."""
    first = rows[0]
    tps_id = first.tps_id
    path = tps_path(tps_id)
    here = path + ".html"
    pictures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for photo in photos:
        pictures[photo.contest_id].append(_photo(photo, here))
    kecamatan = first.kecamatan_code
    received: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for record in history:
        received[record.contest_id].append(
            {
                "revision": record.revision,
                "outcome": OUTCOMES.get(record.outcome, record.outcome),
                "reason": alasan(record.reason) if record.reason else None,
                "terminal_id": record.terminal_id,
                "received": record.received_minute,
            }
        )
    races: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: snapshot.contest_area(r.contest_id)):  # the widest race first
        contest_id = row.contest_id
        form = forms.get(contest_id)
        votes = row.votes or {}
        reasons = list(row.reasons or [])
        races.append(
            {
                "contest_id": contest_id,
                "name": snapshot.contest_name(contest_id),
                "status": row.status,
                "revision": row.revision,
                "valid": row.valid,
                "invalid": row.invalid,
                "votes": [
                    {"choice": c.choice, "candidate_name": c.candidate_name, "votes": votes.get(c.choice)}
                    for c in snapshot.choices_of(contest_id)
                ],
                "reasons": reasons,
                "why_held": [jelaskan(reason, _explained(row), votes) for reason in reasons],
                "terminal_id": row.terminal_id,
                "dpt": row.dpt_male + row.dpt_female,
                "form": _form(row),
                "first_counted": row.first_counted_minute,
                "updated": row.updated_minute,
                "kecamatan_href": relative(here, region_path(kecamatan, contest_id) + ".html"),
                "form_base64": base64.b64encode(form.value).decode() if form else None,
                "form_name": f"{tps_id}.{contest_id}.form.json",
                "signature": form.signature if form else None,
                "public_key": form.public_key if form else None,
                "history": received.get(contest_id, []),
                "photos": pictures.get(contest_id, []) if row.status != "missing" else [],
            }
        )
    kabupaten = kecamatan[:4]
    widest = races[0]["contest_id"]
    data = {
        "tps_id": tps_id,
        "name": first.tps_name,
        "desa": first.desa_name,
        "zone": first.zone,
        "desa_code": tps_id[:10],
        "kecamatan": {"code": kecamatan, "name": snapshot.name("kecamatan", kecamatan)},
        "kabupaten_kota": {"code": kabupaten, "name": snapshot.name("kabupaten_kota", kabupaten)},
        "provinsi": {"code": kecamatan[:2], "name": snapshot.name("provinsi", kecamatan[:2])},
        "breadcrumb": [
            *breadcrumb(snapshot, "desa", tps_id[:10], widest, here),
            {
                "title": TITLED["desa"] + first.desa_name,
                "href": relative(here, region_path(tps_id[:10], widest) + ".html"),
            },
        ],
        "races": races,
        "home": relative(here, "index.html"),
    }
    return Page(path, "tps", data)


def _photo(photo: FormPhoto, here: str) -> dict[str, Any]:
    """A photo a form names, as a TPS page shows it: the sheet, its digest, whether it is in, where."""
    shown = photo.published
    return {
        "sheet": photo.sheet,
        "sha256": photo.sha256,
        "bytes": photo.bytes,
        "media_type": photo.media_type,
        "status": photo.photo_status,
        "href": relative(here, f"{PHOTO_FOLDER}/{photo.name}") if shown else None,
        "thumbnail": relative(here, f"{PHOTO_FOLDER}/{photo.thumbnail}") if shown else None,
        "thumbnail_size": _thumbnail_size(photo.width, photo.height) if shown else None,
    }


def _thumbnail_size(width: int | None, height: int | None) -> tuple[int, int] | None:
    """The thumbnail's size (as Pillow's thumbnail() makes it: within THUMBNAIL_SIZE, the aspect kept)."""
    if not width or not height:
        return None
    scale = min(THUMBNAIL_SIZE[0] / width, THUMBNAIL_SIZE[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _form(row: TpsRow) -> dict[str, int] | None:
    """The deciding form's numbers as a TPS page shows them (none without a form)."""
    if row.status == "missing" or row.numbers is None:
        return None
    return {key: row.numbers[key] for key in FORM_NUMBERS}


def _explained(row: TpsRow) -> dict[str, int]:
    """What explaining why a form is held reads (rekap.domain.review): the form's numbers, its totals and the
    TPS's DPT (those it has)."""
    totals = {"valid": row.valid, "invalid": row.invalid, "dpt_male": row.dpt_male, "dpt_female": row.dpt_female}
    return (row.numbers or {}) | {key: value for key, value in totals.items() if value is not None}


def kecamatan_pages(
    snapshot: Snapshot,
    code: str,
    rows: list[TpsRow],
    forms: Mapping[str, Mapping[str, SignedForm]],
    changed: set[str] | None,
    *,
    history: Mapping[str, list[HistoryRow]] | None = None,
    photos: Mapping[str, list[FormPhoto]] | None = None,
) -> list[Page]:
    """A kecamatan's page and its desa/kelurahan's pages in each race held there (from `rows`: its TPS's, in
    order), and the pages of its TPS that changed (all when `changed` is None), with their signed forms and
    the records received for each (`history`: by TPS)."""
    pages = []
    for contest in snapshot.races("kecamatan", code):
        pages.append(region_page(snapshot, "kecamatan", code, contest, rows))
        mine = [row for row in rows if row.contest_id == contest.contest_id]
        pages += [desa_page(snapshot, desa, contest, desa_rows) for desa, desa_rows in _by_desa(mine).items()]
    by_tps: dict[str, list[TpsRow]] = defaultdict(list)
    for row in rows:
        if changed is None or row.tps_id in changed:
            by_tps[row.tps_id].append(row)
    history, photos = history or {}, photos or {}
    return pages + [
        tps_page(snapshot, tps_rows, forms.get(tps_id, {}), history.get(tps_id, ()), photos.get(tps_id, ()))
        for tps_id, tps_rows in by_tps.items()
    ]


def signed_forms(rows: Iterable[FormRow]) -> dict[str, dict[str, SignedForm]]:
    """tps_id -> contest -> its signed form, from the snapshot's form rows."""
    out: dict[str, dict[str, SignedForm]] = defaultdict(dict)
    for row in rows:
        out[row.tps_id][row.contest_id] = SignedForm(row.value, row.signature, row.public_key)
    return out


def index_page(snapshot: Snapshot, audit_href: str | None, *, signed_heads: bool = False) -> Page:
    """The top page: each province's headline race (its own: candidates, votes, shares, progress), then the
    other races held in it (the kabupaten/kota's, by code) with their progress, and where to check it all
    (the audit bundle; the signed heads, when the site publishes them)."""
    provinces: list[dict[str, Any]] = []
    for region in sorted((r for r in snapshot.regions if r.level == "provinsi"), key=lambda r: r.region_code):
        code = region.region_code
        races = []
        for contest in sorted(snapshot.contests, key=lambda c: (len(c.region_code), c.region_code)):
            area, contest_id = contest.region_code, contest.contest_id
            level = "provinsi" if len(area) == CODE_DIGITS["provinsi"] else "kabupaten_kota"
            if not area.startswith(code) or not snapshot.has(level, area, contest_id):
                continue
            races.append(
                {
                    "contest_id": contest_id,
                    "name": contest.name,
                    "href": region_path(area, contest_id) + ".html",
                    **snapshot.numbers(level, area, contest_id),
                }
            )
            if area == code:  # the province's own race leads, with its votes
                races[-1]["votes"] = snapshot.vote_lines(level, area, contest_id)
        if races:
            headline = races.pop(0) if "votes" in races[0] else None
            provinces.append({"code": code, "name": region.region_name, "headline": headline, "races": races})
    zone = next(
        (
            snapshot.zone("provinsi", p["code"], c["contest_id"])
            for p in provinces
            for c in ([p["headline"]] if p["headline"] else p["races"])[:1]
        ),
        None,
    )
    data = {
        "provinces": provinces,
        "audit_href": audit_href,
        "signed_heads": signed_heads,
        "home": "index.html",
        "zone": zone,
    }
    return Page("index", "index", data)


def region_pages(snapshot: Snapshot, levels: Iterable[str] = ("provinsi", "kabupaten_kota")) -> list[Page]:
    """Every region of these levels in every race that holds it."""
    return [
        region_page(snapshot, region.level, region.region_code, contest)
        for region in snapshot.regions
        if region.level in levels
        for contest in snapshot.races(region.level, region.region_code)
    ]
