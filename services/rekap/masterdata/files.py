"""The master data as a folder of CSV files (UTF-8, a header line, comma-separated), read and checked.

KPU can load its own lists in this format instead of the derived ones: see docs/operators.md, "Master data". Reading
collects every problem (file, line, field) before anything is loaded, so a bad folder loads nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rekap.domain.contests import KOLOM_KOSONG, Contest, ContestKind, choices_problem, contest_id
from rekap.domain.masterdata import Choice, Dataset, MasterDataSet, Region
from rekap.domain.regions import MAX_REGISTERED_PER_TPS, PARENT, Level, Tps, ancestor, is_code
from rekap.errors import RekapError

# file name -> its columns, in order. The parent of a region is the prefix of its code.
COLUMNS: dict[str, tuple[str, ...]] = {
    "dataset.csv": ("name", "tps_source"),
    "provinsi.csv": ("code", "name"),
    "kabupaten_kota.csv": ("code", "kind", "name"),
    "kecamatan.csv": ("code", "name"),
    "desa.csv": ("code", "name"),
    "tps.csv": ("tps_id", "registered_male", "registered_female"),
    "contests.csv": ("contest_id", "name"),
    "choices.csv": ("contest_id", "choice", "candidate_name"),
}
REGION_FILES = {
    Level.PROVINSI: "provinsi.csv",
    Level.KABUPATEN_KOTA: "kabupaten_kota.csv",
    Level.KECAMATAN: "kecamatan.csv",
    Level.DESA: "desa.csv",
}
KABUPATEN_KOTA_KINDS = ("kabupaten", "kota")
MAX_PROBLEMS_SHOWN = 25


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int  # 1 is the header
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class MasterDataError(RekapError):
    def __init__(self, folder: Path, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"The master data in {folder} has {len(problems)} problem(s); nothing was loaded:\n{shown}{tail}"
        )


@dataclass
class _Reader:
    folder: Path
    problems: list[Problem] = field(default_factory=list)

    def rows(self, name: str) -> Iterator[tuple[int, dict[str, str]]]:
        path = self.folder / name
        if not path.is_file():
            self.problems.append(Problem(name, 0, "-", "the file is missing"))
            return
        try:
            with path.open(encoding="utf-8-sig", newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header is None or tuple(h.strip() for h in header) != COLUMNS[name]:
                    self.problems.append(
                        Problem(name, 1, "header", f"expected {','.join(COLUMNS[name])}, found {header}")
                    )
                    return
                for row in reader:
                    if not row or row == [""]:
                        continue
                    if len(row) != len(header):
                        self.problem(name, reader.line_num, "-", f"{len(row)} fields, expected {len(header)}")
                        continue
                    yield reader.line_num, {k: v.strip() for k, v in zip(COLUMNS[name], row, strict=True)}
        except UnicodeDecodeError as error:
            self.problems.append(Problem(name, 0, "-", f"not UTF-8 text: {error}"))
        except csv.Error as error:
            self.problems.append(Problem(name, 0, "-", f"not valid CSV: {error}"))

    def problem(self, file: str, line: int, column: str, message: str) -> None:
        self.problems.append(Problem(file, line, column, message))

    def count(self, file: str, line: int, column: str, text: str, maximum: int) -> int | None:
        if not text.isdigit() or int(text) > maximum:
            self.problem(file, line, column, f"{text!r} is not a whole number from 0 to {maximum}")
            return None
        return int(text)


def read_master_data_folder(folder: Path) -> MasterDataSet:
    """Read and check a master data folder. Raises MasterDataError listing every problem found."""
    reader = _Reader(folder)
    about = _read_dataset(reader)
    regions = _read_regions(reader)
    codes = {(r.level, r.code) for r in regions}
    tps = _read_tps(reader, codes)
    contests_named = _read_contests(reader, codes)
    choices = _read_choices(reader, set(contests_named))
    contests = _assemble_contests(reader, contests_named, choices)
    if reader.problems:
        raise MasterDataError(folder, reader.problems)
    assert about is not None  # a missing or empty dataset.csv is a problem, reported above
    return MasterDataSet(about=about, regions=regions, tps=tps, contests=contests, choices=choices)


def _read_dataset(reader: _Reader) -> Dataset | None:
    rows = [(line, Dataset(row["name"], row["tps_source"])) for line, row in reader.rows("dataset.csv")]
    if len(rows) != 1:
        reader.problem("dataset.csv", 2, "-", f"one row expected (the dataset), found {len(rows)}")
        return None
    line, about = rows[0]
    if not about.name or not about.tps_source:
        reader.problem("dataset.csv", line, "tps_source" if about.name else "name", "empty")
    return about


def _read_regions(reader: _Reader) -> list[Region]:
    regions: list[Region] = []
    known: set[tuple[Level, str]] = set()
    for level, file in REGION_FILES.items():
        for line, row in reader.rows(file):
            code, name = row["code"], row["name"]
            kind = row.get("kind")
            if not is_code(code, level):
                reader.problem(file, line, "code", f"{code!r} is not a {level.value} code (digits, no dots)")
                continue
            if (level, code) in known:
                reader.problem(file, line, "code", f"{code} is listed twice")
                continue
            parent = PARENT.get(level)
            if parent is not None and (parent, ancestor(code, parent)) not in known:
                reader.problem(file, line, "code", f"its {parent.value} {ancestor(code, parent)} is not listed")
            if not name:
                reader.problem(file, line, "name", "empty")
            if level is Level.KABUPATEN_KOTA and kind not in KABUPATEN_KOTA_KINDS:
                reader.problem(file, line, "kind", f"{kind!r} is neither kabupaten nor kota")
            known.add((level, code))
            regions.append(Region(level, code, name, kind))
    return regions


def _read_tps(reader: _Reader, regions: set[tuple[Level, str]]) -> list[Tps]:
    file, seen, found = "tps.csv", set(), []
    for line, row in reader.rows(file):
        tps_id = row["tps_id"]
        if not is_code(tps_id, Level.TPS):
            reader.problem(file, line, "tps_id", f"{tps_id!r} is not 13 digits")
            continue
        if tps_id in seen:
            reader.problem(file, line, "tps_id", f"{tps_id} is listed twice")
            continue
        seen.add(tps_id)
        if (Level.DESA, ancestor(tps_id, Level.DESA)) not in regions:
            reader.problem(file, line, "tps_id", f"its desa {ancestor(tps_id, Level.DESA)} is not listed")
        male = reader.count(file, line, "registered_male", row["registered_male"], MAX_REGISTERED_PER_TPS)
        female = reader.count(file, line, "registered_female", row["registered_female"], MAX_REGISTERED_PER_TPS)
        if male is None or female is None:
            continue
        if male + female > MAX_REGISTERED_PER_TPS:
            reader.problem(file, line, "registered_female", f"{male + female} voters, at most 600 per TPS")
        found.append(Tps(tps_id, male, female))
    return found


def _read_contests(reader: _Reader, regions: set[tuple[Level, str]]) -> dict[str, str]:
    file, named = "contests.csv", {}
    for line, row in reader.rows(file):
        cid, name = row["contest_id"], row["name"]
        kind_text, _, region = cid.partition("-")
        kind = ContestKind(kind_text) if kind_text in {k.value for k in ContestKind} else None
        if kind is None or contest_id(kind, region) != cid or not is_code(region, kind.level):
            reader.problem(file, line, "contest_id", f"{cid!r} is neither pkwkp-<2 digits> nor pkwkk-<4 digits>")
            continue
        if (kind.level, region) not in regions:
            reader.problem(file, line, "contest_id", f"its {kind.level.value} {region} is not listed")
        if cid in named:
            reader.problem(file, line, "contest_id", f"{cid} is listed twice")
        if not name:
            reader.problem(file, line, "name", "empty")
        named[cid] = name
    return named


def _read_choices(reader: _Reader, contests: set[str]) -> list[Choice]:
    file, found = "choices.csv", []
    for line, row in reader.rows(file):
        cid, choice, candidate = row["contest_id"], row["choice"], row["candidate_name"]
        if cid not in contests:
            reader.problem(file, line, "contest_id", f"{cid!r} is not in contests.csv")
        if not (choice == KOLOM_KOSONG or (choice.isdigit() and not choice.startswith("0") and len(choice) <= 2)):
            reader.problem(file, line, "choice", f"{choice!r} is neither a nomor urut (1-99) nor kolom_kosong")
            continue
        if not candidate:
            reader.problem(file, line, "candidate_name", "empty")
        found.append(Choice(cid, choice, candidate))
    return found


def _assemble_contests(reader: _Reader, named: dict[str, str], choices: list[Choice]) -> list[Contest]:
    by_contest: dict[str, list[str]] = {cid: [] for cid in named}
    for choice in choices:
        by_contest.setdefault(choice.contest_id, []).append(choice.choice)
    contests = []
    for cid, name in named.items():
        problem = choices_problem(by_contest[cid]) if by_contest[cid] else "the contest has no choices"
        if problem is not None:
            reader.problem("choices.csv", 0, "choice", f"{cid}: {problem}")
            continue
        kind_text, _, region = cid.partition("-")
        contests.append(Contest(cid, ContestKind(kind_text), region, name, frozenset(by_contest[cid])))
    return contests


def write_master_data(dataset: MasterDataSet, folder: Path) -> None:
    """Write a master data folder that `read_master_data_folder` reads back as the same dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "dataset.csv", [(dataset.about.name, dataset.about.tps_source)])
    for level, file in REGION_FILES.items():
        regions = dataset.regions_at(level)
        if level is Level.KABUPATEN_KOTA:
            _write(folder / file, [(r.code, r.kind, r.name) for r in regions])
        else:
            _write(folder / file, [(r.code, r.name) for r in regions])
    _write(folder / "tps.csv", [(t.tps_id, t.registered_male, t.registered_female) for t in dataset.tps])
    _write(folder / "contests.csv", [(c.contest_id, c.name) for c in dataset.contests])
    _write(folder / "choices.csv", [(c.contest_id, c.choice, c.candidate_name) for c in dataset.choices])


def _write(path: Path, rows: list[tuple[object, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS[path.name])
        writer.writerows(rows)
