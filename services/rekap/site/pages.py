"""The pages of the public site, as data: what each page shows (the same numbers its JSON file holds),
drawn from the rows of one snapshot. Pure: no I/O, no rendering.

Paths, relative to the site's folder (every link between pages is relative, so the folder can be served
from any address):
    index.html                                   the provinces, each race's progress, the audit bundle
    wilayah/CODE/CONTEST.html (.json)            a provinsi, kabupaten/kota or kecamatan in one race
    tps/KECAMATAN/TPS.html (.json)               a TPS: each race's deciding form, its exact signed bytes
                                                 (base64, a download in the page), signature, terminal's key
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

LEVELS = ("provinsi", "kabupaten_kota", "kecamatan")
LEVEL_NAMES = {"provinsi": "Provinsi", "kabupaten_kota": "Kabupaten/Kota", "kecamatan": "Kecamatan"}
TITLED = {"provinsi": "Provinsi ", "kabupaten_kota": "", "kecamatan": "Kecamatan "}  # its name says Kabupaten or Kota
CODE_DIGITS = {"provinsi": 2, "kabupaten_kota": 4, "kecamatan": 6}
CHILD = {"provinsi": "kabupaten_kota", "kabupaten_kota": "kecamatan"}
SUMMARY_NUMBERS = (
    "tps_expected", "tps_counted", "tps_quarantined", "percent_counted", "dpt", "registered", "voted",
    "turnout_percent", "valid", "invalid",
)  # fmt: skip


@dataclass(frozen=True)
class Page:
    path: str  # without suffix: PATH.html and PATH.json are written
    template: str
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

    summary: list[dict[str, Any]]
    votes: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    contests: list[dict[str, Any]]
    choices: list[dict[str, Any]]
    curves: list[dict[str, Any]]
    _by_key: dict[tuple[str, str, str], dict[str, Any]] = field(init=False, repr=False)
    _votes: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = field(init=False, repr=False)
    _names: dict[tuple[str, str], str] = field(init=False, repr=False)
    _choices: dict[str, list[dict[str, Any]]] = field(init=False, repr=False)
    _curves: dict[tuple[str, str, str], list[tuple[str, int]]] = field(init=False, repr=False)
    _contests: dict[str, dict[str, Any]] = field(init=False, repr=False)
    _by_area: dict[str, list[dict[str, Any]]] = field(init=False, repr=False)
    _children: dict[tuple[str, str, str], list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Indexes, so that each page costs what it shows, not what the whole country holds.
        self._contests = {c["contest_id"]: c for c in self.contests}
        self._by_area = defaultdict(list)
        for contest in self.contests:
            self._by_area[contest["region_code"]].append(contest)
        self._by_key = {(r["level"], r["region_code"], r["contest_id"]): r for r in self.summary}
        self._children = defaultdict(list)  # (child level, parent code, race) -> codes, in order
        for level, code, contest_id in sorted(self._by_key):
            parent = next((p for p, c in CHILD.items() if c == level), None)
            if parent is not None:
                self._children[(level, code[: CODE_DIGITS[parent]], contest_id)].append(code)
        self._votes = defaultdict(dict)
        for v in self.votes:
            self._votes[(v["level"], v["region_code"], v["contest_id"])][v["choice"]] = v
        self._names = {(r["level"], r["region_code"]): r["region_name"] for r in self.regions}
        self._choices = defaultdict(list)
        for c in self.choices:
            self._choices[c["contest_id"]].append(c)
        self._curves = defaultdict(list)
        for c in self.curves:
            key = (c["level"], c["region_code"], c["contest_id"])
            self._curves[key].append((c["minute_local"].isoformat(timespec="minutes"), c["tps_counted_so_far"]))

    def races(self, level: str, code: str) -> list[dict[str, Any]]:
        """The races whose area holds this region (a kabupaten/kota's: its province's and its own)."""
        inside = [c for digits in (2, 4, 6) if digits <= len(code) for c in self._by_area.get(code[:digits], ())]
        return [c for c in inside if self.has(level, code, c["contest_id"])]

    def children(self, level: str, code: str, contest_id: str) -> list[tuple[str, str]]:
        """(level, code) of the regions one level down that hold this race, by code."""
        child = CHILD.get(level)
        if child is None:
            return []
        return [(child, c) for c in self._children.get((child, code, contest_id), [])]

    def has(self, level: str, code: str, contest_id: str) -> bool:
        """Whether the race is held in this region (it has TPS expected there)."""
        return (level, code, contest_id) in self._by_key

    def choices_of(self, contest_id: str) -> list[dict[str, Any]]:
        return self._choices[contest_id]

    def contest_name(self, contest_id: str) -> str:
        return str(self._contests[contest_id]["name"])

    def contest_area(self, contest_id: str) -> str:
        """The code of the region the race is held in (2 digits: a province's)."""
        return str(self._contests[contest_id]["region_code"])

    def name(self, level: str, code: str) -> str:
        return self._names.get((level, code), code)

    def numbers(self, level: str, code: str, contest_id: str) -> dict[str, Any]:
        row = self._by_key[(level, code, contest_id)]
        return {key: number(row[key]) for key in SUMMARY_NUMBERS}

    def zone(self, level: str, code: str, contest_id: str) -> str:
        return str(self._by_key[(level, code, contest_id)]["zone"])

    def time_zones(self) -> dict[str, str]:
        """Each zone's name as the pages say it (WIB, WITA, WIT) -> its time zone, as the database holds them."""
        return {str(row["zone"]): str(row["time_zone"]) for row in self.summary}

    def vote_lines(self, level: str, code: str, contest_id: str) -> list[dict[str, Any]]:
        """Every choice of the race, with its votes here (0 before any) and share of the valid votes."""
        counted = self._votes.get((level, code, contest_id), {})
        lines = []
        for choice in self._choices[contest_id]:
            row = counted.get(choice["choice"])
            lines.append({
                "choice": choice["choice"], "candidate_name": choice["candidate_name"],
                "votes": row["votes"] if row else 0,
                "percent_of_valid": number(row["percent_of_valid"]) if row else None,
            })  # fmt: skip
        return lines

    def curve(self, level: str, code: str, contest_id: str) -> list[tuple[str, int]]:
        return self._curves.get((level, code, contest_id), [])


def number(value: object) -> Any:
    """A view's number as JSON has it (numeric columns come as Decimal)."""
    return float(value) if isinstance(value, Decimal) else value


def region_path(code: str, contest_id: str) -> str:
    return f"wilayah/{code}/{contest_id}"


def tps_path(tps_id: str) -> str:
    return f"tps/{tps_id[:6]}/{tps_id}"


def relative(from_path: str, to_path: str) -> str:
    """A link from one page to another (both relative to the site's folder)."""
    depth = from_path.count("/")
    return "../" * depth + to_path


def breadcrumb(snapshot: Snapshot, level: str, code: str, contest_id: str, here: str) -> list[dict[str, str]]:
    """The regions above this one in the same race, from the top, each linked."""
    trail = []
    for upper in LEVELS[: LEVELS.index(level)]:
        upper_code = code[: CODE_DIGITS[upper]]
        if snapshot.has(upper, upper_code, contest_id):
            title = TITLED[upper] + snapshot.name(upper, upper_code)
            trail.append({"title": title, "href": relative(here, region_path(upper_code, contest_id) + ".html")})
    return trail


def region_page(snapshot: Snapshot, level: str, code: str, contest: Mapping[str, Any],
                tps_rows: list[dict[str, Any]] | None = None) -> Page:  # fmt: skip
    """A region in one race: its numbers, its votes, the regions below (or, for a kecamatan, its TPS)."""
    contest_id = contest["contest_id"]
    path = region_path(code, contest_id)
    here = path + ".html"
    children = []
    for child_level, child_code in snapshot.children(level, code, contest_id):
        lines = snapshot.vote_lines(child_level, child_code, contest_id)
        children.append({
            "code": child_code, "name": snapshot.name(child_level, child_code),
            "href": relative(here, region_path(child_code, contest_id) + ".html"),
            **snapshot.numbers(child_level, child_code, contest_id),
            "votes": {line["choice"]: line["votes"] for line in lines},
        })  # fmt: skip
    data: dict[str, Any] = {
        "level": level, "level_name": LEVEL_NAMES[level], "code": code, "name": snapshot.name(level, code),
        "title": TITLED[level] + snapshot.name(level, code),
        "contest": {"contest_id": contest_id, "name": contest["name"]},
        "zone": snapshot.zone(level, code, contest_id),
        "breadcrumb": breadcrumb(snapshot, level, code, contest_id, here),
        "races": [{"contest_id": c["contest_id"], "name": c["name"], "current": c["contest_id"] == contest_id,
                   "href": relative(here, region_path(code, c["contest_id"]) + ".html")}
                  for c in snapshot.races(level, code)],
        "summary": snapshot.numbers(level, code, contest_id),
        "votes": snapshot.vote_lines(level, code, contest_id),
        "children_level": LEVEL_NAMES.get(CHILD.get(level, ""), ""),
        "children": children,
        "curve": snapshot.curve(level, code, contest_id),
        "home": relative(here, "index.html"),
    }  # fmt: skip
    if tps_rows is not None:
        data["tps"] = [_tps_line(row, here) for row in tps_rows if row["contest_id"] == contest_id]
        data["curve"] = kecamatan_curve(data["tps"])
    return Page(path, "region.html", data)


def _tps_line(row: Mapping[str, Any], here: str) -> dict[str, Any]:
    return {
        "tps_id": row["tps_id"], "name": row["tps_name"], "desa": row["desa_name"], "status": row["status"],
        "revision": row["revision"], "valid": row["valid"], "invalid": row["invalid"], "votes": row["votes"] or {},
        "first_counted": row["first_counted_minute"],
        "href": relative(here, tps_path(row["tps_id"]) + ".html"),
    }  # fmt: skip


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


def tps_page(snapshot: Snapshot, rows: list[dict[str, Any]], forms: Mapping[str, SignedForm]) -> Page:
    """A TPS: per race its status, the deciding form's numbers, revision, terminal, times, and the signed
    form to download (`forms`: by contest)."""
    first = rows[0]
    tps_id = first["tps_id"]
    path = tps_path(tps_id)
    here = path + ".html"
    kecamatan = first["kecamatan_code"]
    races = []
    for row in sorted(rows, key=lambda r: snapshot.contest_area(r["contest_id"])):  # the widest race first
        contest_id = row["contest_id"]
        form = forms.get(contest_id)
        votes = row["votes"] or {}
        races.append({
            "contest_id": contest_id, "name": snapshot.contest_name(contest_id),
            "status": row["status"], "revision": row["revision"], "valid": row["valid"], "invalid": row["invalid"],
            "votes": [{"choice": c["choice"], "candidate_name": c["candidate_name"], "votes": votes.get(c["choice"])}
                      for c in snapshot.choices_of(contest_id)],
            "reasons": list(row["reasons"] or []), "terminal_id": row["terminal_id"],
            "dpt": row["dpt_male"] + row["dpt_female"],
            "first_counted": row["first_counted_minute"], "updated": row["updated_minute"],
            "kecamatan_href": relative(here, region_path(kecamatan, contest_id) + ".html"),
            "form_base64": base64.b64encode(form.value).decode() if form else None,
            "form_name": f"{tps_id}.{contest_id}.form.json",
            "signature": form.signature if form else None, "public_key": form.public_key if form else None,
        })  # fmt: skip
    kabupaten = kecamatan[:4]
    data = {
        "tps_id": tps_id, "name": first["tps_name"], "desa": first["desa_name"], "zone": first["zone"],
        "kecamatan": {"code": kecamatan, "name": snapshot.name("kecamatan", kecamatan)},
        "kabupaten_kota": {"code": kabupaten, "name": snapshot.name("kabupaten_kota", kabupaten)},
        "provinsi": {"code": kecamatan[:2], "name": snapshot.name("provinsi", kecamatan[:2])},
        "races": races, "home": relative(here, "index.html"),
    }  # fmt: skip
    return Page(path, "tps.html", data)


def kecamatan_pages(snapshot: Snapshot, code: str, rows: list[dict[str, Any]],
                    forms: Mapping[str, Mapping[str, SignedForm]], changed: set[str] | None) -> list[Page]:  # fmt: skip
    """A kecamatan's page in each race held there (each with every TPS's line, from `rows`: its TPS's, in
    order), and the pages of its TPS that changed (all when `changed` is None), with their signed forms."""
    pages = [region_page(snapshot, "kecamatan", code, contest, rows) for contest in snapshot.races("kecamatan", code)]
    by_tps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if changed is None or row["tps_id"] in changed:
            by_tps[row["tps_id"]].append(row)
    return pages + [tps_page(snapshot, tps_rows, forms.get(tps_id, {})) for tps_id, tps_rows in by_tps.items()]


def signed_forms(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, SignedForm]]:
    """tps_id -> contest -> its signed form, from the snapshot's form rows."""
    out: dict[str, dict[str, SignedForm]] = defaultdict(dict)
    for row in rows:
        out[row["tps_id"]][row["contest_id"]] = SignedForm(row["value"], row["signature"], row["public_key"])
    return out


def index_page(snapshot: Snapshot, audit_href: str | None, *, signed_heads: bool = False) -> Page:
    """The top page: every province's governor race and the kabupaten/kota races in it, with progress, and
    where to check it (the audit bundle; the signed heads, when the site publishes them)."""
    provinces = []
    for region in sorted((r for r in snapshot.regions if r["level"] == "provinsi"), key=lambda r: r["region_code"]):
        code = region["region_code"]
        races = []
        for contest in snapshot.contests:
            level = "provinsi" if len(contest["region_code"]) == 2 else "kabupaten_kota"
            if not contest["region_code"].startswith(code) or not snapshot.has(
                level, contest["region_code"], contest["contest_id"]
            ):
                continue
            races.append({"contest_id": contest["contest_id"], "name": contest["name"],
                          "href": region_path(contest["region_code"], contest["contest_id"]) + ".html",
                          **snapshot.numbers(level, contest["region_code"], contest["contest_id"])})  # fmt: skip
        if races:
            provinces.append({"code": code, "name": region["region_name"], "races": races})
    zone = next((snapshot.zone("provinsi", p["code"], p["races"][0]["contest_id"]) for p in provinces), None)
    data = {"provinces": provinces, "audit_href": audit_href, "signed_heads": signed_heads, "home": "index.html",
            "zone": zone}  # fmt: skip
    return Page("index", "index.html", data)


def region_pages(snapshot: Snapshot, levels: Iterable[str] = ("provinsi", "kabupaten_kota")) -> list[Page]:
    """Every region of these levels in every race that holds it."""
    return [
        region_page(snapshot, region["level"], region["region_code"], contest)
        for region in snapshot.regions
        if region["level"] in levels
        for contest in snapshot.races(region["level"], region["region_code"])
    ]
