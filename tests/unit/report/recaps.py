"""Recapitulations as `rekap report` reads them, made up (no database): Sumatera Selatan's governor race by
kabupaten/kota (of the size of its 13,206 TPS), or a kabupaten's by kecamatan, for the report's tests."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

from rekap.app.recap import NUMBERS, Line, Recap
from rekap.domain.regions import Level
from rekap.masterdata.files import read_master_data_folder
from rekap.numbers import angka
from rekap.resources import sumsel_master_data_dir

SHIPPED = read_master_data_folder(sumsel_master_data_dir())
GOVERNOR = next(c for c in SHIPPED.contests if c.contest_id == "pkwkp-16")
CANDIDATES = [(c.choice, c.candidate_name) for c in SHIPPED.choices if c.contest_id == GOVERNOR.contest_id]
HELD = 68


def numbers(tps: int, rng: random.Random) -> tuple[dict[str, int], dict[str, int]]:
    """The sections and votes of `tps` counted forms, adding up as a counted form's do."""
    dpt_male, dpt_female = tps * 240, tps * 238
    voted = {f"voted_{kind}_{sex}": rng.randint(tps * low, tps * high)
             for kind, low, high in (("dpt", 150, 175), ("moved_in", 1, 3), ("added", 1, 3))
             for sex in ("male", "female")}  # fmt: skip
    used = sum(voted.values())
    received = (dpt_male + dpt_female) * 1025 // 1000
    invalid = used // 30
    votes = {choice: rng.randint(0, (used - invalid) // 3) for choice, _ in CANDIDATES[:-1]}
    votes[CANDIDATES[-1][0]] = used - invalid - sum(votes.values())
    sections = {"dpt_male": dpt_male, "dpt_female": dpt_female, "registered_male": dpt_male,
                "registered_female": dpt_female, **voted, "voted": used, "disabled_voted_male": tps // 3,
                "disabled_voted_female": tps // 3, "ballots_received": received, "ballots_used": used,
                "ballots_damaged": tps // 2, "ballots_unused": received - used - tps // 2, "valid": used - invalid,
                "invalid": invalid}  # fmt: skip
    assert set(sections) == set(NUMBERS)
    return sections, votes


def recap(level: str, code: str, name: str, children: list[tuple[str, str]], seed: int) -> Recap:
    """The region and a line per child (code, name), each of a few hundred TPS, all counted but HELD."""
    rng = random.Random(seed)
    lines, total = [], {}
    tps_counted = 0
    for child_code, child_name in children:
        tps = rng.randint(250, 1300) if level == "provinsi" else rng.randint(20, 90)
        sections, votes = numbers(tps, rng)
        lines.append(Line(child_code, child_name, f"{angka(tps)}/{angka(tps)}", sections, votes))
        total = {key: total.get(key, 0) + value for key, value in {**sections, **votes}.items()}
        tps_counted += tps
    expected = tps_counted + HELD
    return Recap(
        level=level, region_code=code, region_name=name, contest_id=GOVERNOR.contest_id, contest_name=GOVERNOR.name,
        choices=CANDIDATES, lines=lines,
        total=Line(code, name, f"{angka(tps_counted)}/{angka(expected)}", {n: total[n] for n in NUMBERS},
                   {c: total[c] for c, _ in CANDIDATES}),
        tps_expected=expected, tps_counted=tps_counted, tps_held=HELD,
        taken_at=datetime(2024, 11, 27, 21, 14, 53, tzinfo=ZoneInfo("Asia/Jakarta")), zone="WIB",
    )  # fmt: skip


def province_recap() -> Recap:
    """The province, by kabupaten/kota (its 17, named as the hasil views name them)."""
    children = [(k.code, f"{(k.kind or '').title()} {k.name}") for k in SHIPPED.regions_at(Level.KABUPATEN_KOTA)]
    return recap("provinsi", "16", "Sumatera Selatan", children, seed=16)


def kabupaten_recap() -> Recap:
    """Kabupaten Ogan Komering Ulu, by kecamatan."""
    children = [(k.code, k.name) for k in SHIPPED.regions_at(Level.KECAMATAN) if k.code.startswith("1601")]
    return recap("kabupaten_kota", "1601", "Kabupaten Ogan Komering Ulu", children, seed=1601)
