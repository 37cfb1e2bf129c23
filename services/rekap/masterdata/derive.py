"""The derivation of the Sumatera Selatan master data folder, reproducible: `rekap masterdata derive`.

Regions come from the npm package idn-area-data (ODbL), converted to KPU-style codes. TPS are
synthetic: no public list gives them per village, so each kabupaten/kota's KPU count is spread over
its villages (every village at least one TPS), and registered voters per TPS are drawn so that the
province totals equal the 2024 DPT. The same inputs always give the same files.
"""

from __future__ import annotations

import csv
import hashlib
import random
import shutil
import subprocess
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

from rekap.domain.contests import KOLOM_KOSONG, Contest, ContestKind, contest_id
from rekap.domain.masterdata import Choice, Dataset, MasterDataSet, Region
from rekap.domain.regions import MAX_REGISTERED_PER_TPS, Level, Tps, ancestor, kpu_code
from rekap.errors import RekapError
from rekap.masterdata import sumsel2024 as facts

SEED = "rekap/sumsel-2024/v1"
TPS_SOURCE = (
    "SYNTHETIC: derived by `rekap masterdata derive` from idn-area-data "
    f"{facts.IDN_AREA_DATA_VERSION} villages and KPU per-kabupaten/kota TPS counts; not the KPU TPS list"
)


def fetch_idn_area_data(workdir: Path, version: str = facts.IDN_AREA_DATA_VERSION) -> Path:
    """Fetch the npm package into `workdir` and return its data folder."""
    npm = shutil.which("npm")
    if npm is None:
        raise RekapError("npm is needed to fetch idn-area-data (Debian: apt-get install npm), or pass --from")
    result = subprocess.run(
        [npm, "pack", f"idn-area-data@{version}", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RekapError(f"npm could not fetch idn-area-data@{version}: {result.stderr.strip()}")
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package" / "data"


def regions_from_idn_area_data(data: Path, province: str = facts.PROVINCE) -> list[Region]:
    def rows(name: str) -> list[dict[str, str]]:
        with (data / name).open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    regions = [
        Region(Level.PROVINSI, r["code"], r["name"].title()) for r in rows("provinces.csv") if r["code"] == province
    ]
    for r in rows("regencies.csv"):
        if r["province_code"] == province:
            kind, _, name = r["name"].partition(" ")  # "KABUPATEN OGAN ILIR", "KOTA PALEMBANG"
            regions.append(Region(Level.KABUPATEN_KOTA, kpu_code(r["code"]), name.title(), kind.lower()))
    for file, level in (("districts.csv", Level.KECAMATAN), ("villages.csv", Level.DESA)):
        for r in rows(file):
            code = kpu_code(r["code"])
            if code.startswith(province):
                regions.append(Region(level, code, r["name"]))
    if not any(r.level is Level.PROVINSI for r in regions):
        raise RekapError(f"{data} has no province {province}")
    return regions


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Split `total` into whole parts in proportion to `weights` (Hamilton's method): the parts add
    up to `total` exactly and each is within one of its exact share."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    parts = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (parts[i] - shares[i], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def derive_tps(regions: list[Region]) -> list[Tps]:
    villages: dict[str, list[str]] = defaultdict(list)
    for region in regions:
        if region.level is Level.DESA:
            villages[ancestor(region.code, Level.KABUPATEN_KOTA)].append(region.code)
    kabupaten = sorted(facts.TPS_JULY_2024)
    if sorted(villages) != kabupaten:
        raise RekapError(f"the villages' kabupaten/kota {sorted(villages)} are not those with TPS counts")
    totals = largest_remainder(facts.TPS_FINAL, [facts.TPS_JULY_2024[k] for k in kabupaten])
    tps_ids = []
    for kab, total in zip(kabupaten, totals, strict=True):
        desa = sorted(villages[kab])
        if total < len(desa):
            raise RekapError(f"{kab}: {total} TPS cannot cover {len(desa)} villages")
        # each village one TPS, the rest in proportion to a weight fixed by its code
        extra = largest_remainder(total - len(desa), [_weight(code) for code in desa])
        for code, more in zip(desa, extra, strict=True):
            tps_ids += [f"{code}{n:03d}" for n in range(1, more + 2)]
    return _registered_voters(tps_ids)


def _weight(code: str) -> float:
    """A stable pseudo-random weight from 0.5 to 1.5: villages differ in size, reproducibly."""
    return 0.5 + int.from_bytes(hashlib.sha256(f"{SEED}/{code}".encode()).digest()[:4]) / 2**32


def _registered_voters(tps_ids: list[str]) -> list[Tps]:
    """Registered voters per TPS, at most 600, adding up to the province's DPT by sex exactly."""
    rng = random.Random(SEED)  # noqa: S311 (reproducible draws, not secrets)
    total_dpt = facts.DPT_MALE + facts.DPT_FEMALE
    mean = total_dpt / len(tps_ids)
    # a triangular draw whose mean is the province's mean; the rounding rest is spread one by one
    draws = [rng.triangular(300, MAX_REGISTERED_PER_TPS, 3 * mean - 900) for _ in tps_ids]
    totals = _exact_sum([min(MAX_REGISTERED_PER_TPS, round(d)) for d in draws], total_dpt)
    male_share = facts.DPT_MALE / total_dpt
    males = _exact_sum(
        [round(t * rng.uniform(male_share - 0.03, male_share + 0.03)) for t in totals], facts.DPT_MALE, ceilings=totals
    )
    return [Tps(i, m, t - m) for i, t, m in zip(tps_ids, totals, males, strict=True)]


def _exact_sum(values: list[int], target: int, ceilings: list[int] | None = None) -> list[int]:
    """Nudge values by one, cycling through them, until they add up to `target`."""
    values = list(values)
    ceilings = ceilings or [MAX_REGISTERED_PER_TPS] * len(values)
    missing = target - sum(values)
    step, i = (1 if missing > 0 else -1), 0
    while missing != 0:
        candidate = values[i] + step
        if 0 < candidate <= ceilings[i]:
            values[i] = candidate
            missing -= step
        i = (i + 1) % len(values)
    return values


def derive_contests(regions: list[Region]) -> tuple[list[Contest], list[Choice]]:
    province = next(r for r in regions if r.level is Level.PROVINSI)
    governor = contest_id(ContestKind.PKWKP, province.code)
    contests = [
        Contest(
            governor,
            ContestKind.PKWKP,
            province.code,
            f"Pemilihan Gubernur dan Wakil Gubernur {province.name} 2024",
            frozenset(facts.GOVERNOR_PAIRS),
        ),
    ]
    choices = [Choice(governor, n, name) for n, name in facts.GOVERNOR_PAIRS.items()]
    for region in regions:
        if region.level is not Level.KABUPATEN_KOTA:
            continue
        cid = contest_id(ContestKind.PKWKK, region.code)
        office = "Bupati dan Wakil Bupati" if region.kind == "kabupaten" else "Wali Kota dan Wakil Wali Kota"
        title = f"{(region.kind or '').title()} {region.name}"
        pairs = facts.REGENT_PAIRS[region.code]
        race = [str(n) for n in range(1, len(pairs) + 1)] + ([KOLOM_KOSONG] if len(pairs) == 1 else [])
        contests.append(
            Contest(cid, ContestKind.PKWKK, region.code, f"Pemilihan {office} {title} 2024", frozenset(race))
        )
        choices += [Choice(cid, str(n), name) for n, name in enumerate(pairs, start=1)]
        if len(pairs) == 1:
            choices.append(Choice(cid, KOLOM_KOSONG, "Kolom kosong"))
    return contests, choices


def derive(data: Path) -> MasterDataSet:
    regions = regions_from_idn_area_data(data)
    contests, choices = derive_contests(regions)
    about = Dataset(f"Pilkada 2024 Sumatera Selatan (regions: idn-area-data {facts.IDN_AREA_DATA_VERSION})", TPS_SOURCE)
    return MasterDataSet(about, regions, derive_tps(regions), contests, choices)


def derive_from_npm() -> MasterDataSet:
    with tempfile.TemporaryDirectory(prefix="rekap-idn-area-data-") as workdir:
        return derive(fetch_idn_area_data(Path(workdir)))
