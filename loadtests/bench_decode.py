"""Microbenchmark: decode + validate (+ verify) per record, on one core, and where the time goes.

    .venv/bin/python -m loadtests.bench_decode [--records 20000] [--seconds 3]

Builds signed records for the shipped Sumatera Selatan master data (both contests, every TPS in
turn), pins itself to one CPU, and times the pure decoder with signature verification off and on,
then each stage alone. Writes loadtests/results/decode.md and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

from rekap.domain.decode import Authentic, Decoder, RawRecord
from rekap.domain.rules import arithmetic_problems
from rekap.domain.signing import SigningKey, Verifier
from rekap.domain.tally import TallyV1
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import consistent_form, kpps_terminal_id, signed_record

RESULTS = Path(__file__).parent / "results"
SECRET = b"bench-decode"


def build(records: int) -> tuple[Decoder, Decoder, list[RawRecord], dict[str, Terminal]]:
    dataset = read_master_data_folder(sumsel_master_data_dir())
    master = dataset.master_data()
    rng = random.Random(7)
    terminals: dict[str, Terminal] = {}
    built: list[RawRecord] = []
    for tps in dataset.tps:
        key = SigningKey.derived(SECRET, kpps_terminal_id(tps.tps_id))
        terminals[kpps_terminal_id(tps.tps_id)] = Terminal(
            kpps_terminal_id(tps.tps_id), key.public_key, Scope(ScopeKind.TPS, tps.tps_id)
        )
        for contest in master.contests_at(tps.tps_id):
            built.append(signed_record(consistent_form(tps, contest, rng), key))
            if len(built) == records:
                return Decoder(master, terminals, verify_signatures=False), Decoder(master, terminals), built, terminals
    return Decoder(master, terminals, verify_signatures=False), Decoder(master, terminals), built, terminals


def rate(work: Callable[[RawRecord], object], records: list[RawRecord], seconds: float) -> float:
    """Records per second, best of repeated passes lasting at least `seconds` in all."""
    best, spent = 0.0, 0.0
    while spent < seconds:
        started = time.perf_counter()
        for record in records:
            work(record)
        elapsed = time.perf_counter() - started
        spent += elapsed
        best = max(best, len(records) / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"building {args.records:,} signed records ...", flush=True)
    trusted, verifying, records, terminals = build(args.records)
    assert all(isinstance(verifying.decode(r), Authentic) for r in records), "the records must be valid"
    tallies = [TallyV1.model_validate_json(r.value or b"") for r in records]
    verifiers = {t: Verifier(term.public_key) for t, term in terminals.items()}
    pairs = [(verifiers[t.terminal_id], r) for t, r in zip(tallies, records, strict=True)]

    print("measuring ...", flush=True)
    full_off = rate(trusted.decode, records, args.seconds)
    full_on = rate(verifying.decode, records, args.seconds)
    parse = rate(lambda r: TallyV1.model_validate_json(r.value or b""), records, args.seconds)
    it = iter(tallies * 1000)
    rules = rate(lambda _: arithmetic_problems(next(it)), records, args.seconds)
    it2 = iter(pairs * 1000)

    def verify(_: RawRecord) -> None:
        verifier, record = next(it2)
        verifier.verify(record.value or b"", record.header("signature"))

    verify_rate = rate(verify, records, args.seconds)

    def us(per_second: float) -> float:
        return 1e6 / per_second

    rest = us(full_off) - us(parse) - us(rules)
    lines = [
        "# Decode microbenchmark",
        "",
        f"Command: `.venv/bin/python -m loadtests.bench_decode --records {args.records} --seconds {args.seconds}`  ",
        (
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, pinned to one; "
            f"Python {platform.python_version()}"
        ),
        "",
        "| what | records/s (one core) | µs per record |",
        "|---|---:|---:|",
        f"| decode + validate, signatures not verified | {full_off:,.0f} | {us(full_off):.1f} |",
        f"| decode + validate + verify (Ed25519) | {full_on:,.0f} | {us(full_on):.1f} |",
        "",
        "Where the time goes (each stage alone):",
        "",
        "| stage | µs per record | share of decode without verification |",
        "|---|---:|---:|",
        f"| JSON parse + schema validation (pydantic) | {us(parse):.1f} | {us(parse) / us(full_off):.0%} |",
        f"| arithmetic rules | {us(rules):.2f} | {us(rules) / us(full_off):.0%} |",
        (
            f"| key, master data, choices and terminal checks (the rest) | {max(rest, 0):.1f} | "
            f"{max(rest, 0) / us(full_off):.0%} |"
        ),
        f"| Ed25519 verification (libsodium) | {us(verify_rate):.1f} | (added when on) |",
    ]
    report = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode.md").write_text(report)
    print()
    print(report)


if __name__ == "__main__":
    main()
