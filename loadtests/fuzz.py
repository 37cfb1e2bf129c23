"""Fuzz of the decoder and the writer together: generated hostile records (random bytes, signed forms
mutated byte by byte and field by field, odd keys and headers) are decoded, judged and written
through the tabulator's own batch transaction into a real PostgreSQL.

    .venv/bin/python -m loadtests.fuzz                     # 120,000 records (make fuzz)
    .venv/bin/python -m loadtests.fuzz --records 5000 --seed 7

What must hold, for every record: decoding never raises; a record is accepted (counted or held) only if
its exact value bytes were signed by the key of the terminal it names; the independent verifier
(tools/verify_bundle.py) judges it alike (the same reason, or an authentic form with the same authority
and broken rules); every record is written, one outcome row each, in batches of 2,000, with its ledger
leaf (the writer never refuses one: `unstorable_record` never appears); every dead-letter copy stays
under 90 KiB. Reports the count, the outcomes, and the time per
record (median, p99.9 and worst) of decoding. Needs the local stack's PostgreSQL; makes its own
database and drops it. Writes loadtests/results/fuzz.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from loadtests.harness import ROOT, SECRET, Run, write_results
from rekap.adapters.kafka.deadletters import copy_of
from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.masterdata import read_master_data as read_db_master_data
from rekap.adapters.postgres.tabulation import TabulationStore, init_connection
from rekap.adapters.postgres.terminals import read_terminals, registry_size
from rekap.devstack.secrets import stack_settings
from rekap.domain.batch import BatchChanges, ConsumedRecord, Judged, PartitionAdvance, form_keys, tabulate
from rekap.domain.decode import Authentic, Decoded, Decoder, RawRecord
from rekap.domain.ledger import Basis, anchor, record_digest
from rekap.domain.masterdata import MasterDataSet
from rekap.domain.signing import SigningKey
from rekap.masterdata.files import read_master_data_folder, write_master_data
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import Form, consistent_form, encode
from rekap.simulation.night import corrected, simulated_terminals

Header = tuple[str, bytes | None]
BATCH = 2000
MAX_COPY_BYTES = 90 * 1024


@dataclass(frozen=True, slots=True)
class Fuzzed:
    kind: str
    record: RawRecord
    signed: bool  # its exact value bytes were signed by the key of the terminal it names


class Generator:
    """Hostile records, reproducible from a seed."""

    def __init__(self, dataset: MasterDataSet, seed: int, secret: bytes) -> None:
        self.secret = secret  # the simulated terminals' keys derive from it
        self.rng = random.Random(seed)
        self.master = dataset.master_data()
        self.tps = dataset.tps[:: max(1, len(dataset.tps) // 500)]

    def form(self) -> Form:
        tps = self.rng.choice(self.tps)
        contest = self.rng.choice(self.master.contests_at(tps.tps_id))
        form = consistent_form(tps, contest, self.rng)
        if self.rng.random() < 0.3:
            form = corrected(form, self.rng, self.rng.choice([2, 3, 50, 101, 2_147_483_647]))
        if self.rng.random() < 0.1:
            form["terminal_id"] = f"ppk-{tps.tps_id[:6]}"
        return form

    def sign(self, form: Form, value: bytes) -> bytes:
        return SigningKey.derived(self.secret, str(form["terminal_id"])).sign(value)

    def record(self) -> Fuzzed:
        kind, make = self.rng.choice(self.KINDS)
        return make(self, kind)

    # -- the kinds ------------------------------------------------------------------------------

    def random_bytes(self, kind: str) -> Fuzzed:
        value = self.rng.randbytes(self.rng.choice([0, 1, 10, 200, 2000, 70_000]))
        return Fuzzed(kind, RawRecord(self.some_key(), self.rng.choice([value, None]), self.some_headers()), False)

    def byte_mutation(self, kind: str) -> Fuzzed:
        form = self.form()
        original = encode(form)
        value = bytearray(original)
        signature = self.sign(form, original)
        for _ in range(self.rng.randint(1, 4)):
            at = self.rng.randrange(len(value))
            choice = self.rng.random()
            if choice < 0.4:
                value[at] = self.rng.randrange(256)
            elif choice < 0.7:
                value[at:at] = self.rng.choice([b"\x00", b"\\u0000", b'"', b",", b"{", b"\xff", b"9" * 30, b" "])
            else:
                del value[at : at + self.rng.randint(1, 8)]
        headers = [("content-type", b"application/json"), ("signature", signature)]
        # a mutation may give the same bytes back (a byte set to what it was): then they are the signed ones
        return Fuzzed(kind, RawRecord(str(form["tps_id"]).encode(), bytes(value), headers), value == original)

    def field_mutation(self, kind: str) -> Fuzzed:
        """A field changed, and signed again by the form's terminal: authentic bytes of a buggy terminal."""
        form = self.form()
        mutate = self.rng.choice(FIELD_MUTATIONS)
        text = mutate(self.rng, form)
        value = text if isinstance(text, bytes) else json.dumps(text, ensure_ascii=self.rng.random() < 0.5).encode()
        headers = [("content-type", b"application/json"), ("signature", self.sign(form, value))]
        return Fuzzed(kind, RawRecord(str(form["tps_id"]).encode(), value, headers), True)

    def header_mutation(self, kind: str) -> Fuzzed:
        form = self.form()
        value = encode(form)
        headers: list[Header] = [("content-type", b"application/json"), ("signature", self.sign(form, value))]
        headers = self.rng.sample(headers, self.rng.randint(0, 2)) + self.some_headers()
        if self.rng.random() < 0.3:
            headers.append(("signature", self.rng.choice([None, b"", b"AAAA", self.sign(self.form(), value)])))
        if self.rng.random() < 0.2:
            headers.append(("content-type", self.rng.choice([None, b"text/plain", b"application/json\x00"])))
        key = str(form["tps_id"]).encode() if self.rng.random() < 0.7 else self.some_key()
        return Fuzzed(kind, RawRecord(key, value, headers), True)

    def valid(self, kind: str) -> Fuzzed:
        form = self.form()
        value = encode(form)
        headers = [("content-type", b"application/json"), ("signature", self.sign(form, value))]
        return Fuzzed(kind, RawRecord(str(form["tps_id"]).encode(), value, headers), True)

    def some_key(self) -> bytes | None:
        return self.rng.choice([None, b"", self.rng.randbytes(13), b"\x00" * 13, self.rng.randbytes(3000)])

    def some_headers(self) -> list[Header]:
        names = ["x", "", "nul\x00name", "\udcff\udcfe", "é", "signature", "content-type", "x" * 300]
        values = [None, b"", b"\x00", self.rng.randbytes(self.rng.choice([1, 100, 20_000]))]
        return [(self.rng.choice(names), self.rng.choice(values)) for _ in range(self.rng.randint(0, 4))]

    KINDS: ClassVar[list[tuple[str, Callable[[Generator, str], Fuzzed]]]] = [
        ("random bytes", random_bytes),
        ("byte mutation of a signed form", byte_mutation),
        ("field mutation, signed again", field_mutation),
        ("header and key mutation", header_mutation),
        ("valid form", valid),
    ]


def _set(path: str, value: Any) -> Callable[[random.Random, Form], Any]:
    def apply(_: random.Random, form: Form) -> Any:
        target: Any = form
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
        return form

    return apply


def _duplicate_key(rng: random.Random, form: Form) -> bytes:
    text = encode(form)
    return text.replace(b'"valid":', b'"valid":' + str(rng.randint(0, 9)).encode() + b',"valid":', 1)


def _many_votes(rng: random.Random, form: Form) -> Form:
    form["votes"] = {str(n): 0 for n in range(1, rng.choice([100, 3000]))}
    return form


FIELD_MUTATIONS: list[Callable[[random.Random, Form], Any]] = [
    _set("valid", -1), _set("valid", 10**30), _set("valid", 1.5), _set("valid", "7"), _set("valid", None),
    _set("revision", 0), _set("revision", 2**31), _set("tps_id", "1" * 13), _set("tps_id", "\x00" * 13),
    _set("contest_id", "pkwkp-99"), _set("terminal_id", "nobody-here"), _set("terminal_id", "A\x00"),
    _set("submitted_at", "2999-01-01T00:00:00+07:00"), _set("submitted_at", "0001-01-01T00:00:00Z"),
    _set("submitted_at", "not a time"), _set("schema", "tally/v2"), _set("votes", {}),
    _set("votes", {"\x00": 1}), _set("votes", {"1": 1, "kolom_kosong": 1, "99": 1}), _set("\x00", 1),
    _set("voters.registered.male", 9999), _set("ballots", []), _set("voters", "x"), _set("extra", {"a": [1, 2]}),
    _set("submission_id", "00000000-0000-0000-0000-000000000000\x00"), _duplicate_key, _many_votes,
    lambda _, form: [form],
    lambda _, form: "\ud800".join(json.dumps(form).split(":", 1)).encode(errors="surrogatepass"),
]  # fmt: skip


async def run(records: int, seed: int) -> tuple[dict[str, Any], list[str]]:
    """On the local stack, in a database of its own (dropped at the end)."""
    dataset = read_master_data_folder(sumsel_master_data_dir())
    db = Run(stack_settings())
    await db.prepare_database(dataset)
    try:
        return await fuzz(db.url, dataset, records, seed)
    finally:
        await db.drop()


async def fuzz(
    url: str, dataset: MasterDataSet, records: int, seed: int, secret: bytes = SECRET
) -> tuple[dict[str, Any], list[str]]:
    """Generate, decode and write `records` records into the database at `url` (master data and the
    simulated terminals loaded); returns the result row and every problem found."""
    pool = await pg.create_pool(url, min_size=1, max_size=2, init=init_connection)
    problems: list[str] = []
    try:
        async with pool.acquire() as conn:
            size = await registry_size(conn)
            decoder = Decoder(await read_db_master_data(conn), await read_terminals(conn), registry_size=size)
        independent = IndependentJudge(dataset, secret, size)
        generator = Generator(dataset, seed, secret)
        store = TabulationStore(pool)
        kinds: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        times: list[float] = []
        offset, written, started = 0, 0, time.monotonic()
        while offset < records:
            batch: list[Judged] = []
            basis = Basis(size, decoder.now_ms())
            for _ in range(min(BATCH, records - offset)):
                fuzzed = generator.record()
                kinds[fuzzed.kind] += 1
                raw = fuzzed.record
                consumed = ConsumedRecord("fuzz", 0, offset, 0, raw.key, raw.value, tuple(raw.headers))
                t0 = time.perf_counter()
                try:
                    decoded = decoder.decode(consumed.raw, basis.judged_at_ms)
                except Exception as error:  # noqa: BLE001 (what the test is for)
                    problems.append(f"offset {offset} ({fuzzed.kind}): decode raised {error!r}")
                    decoded = None
                times.append(time.perf_counter() - t0)
                if isinstance(decoded, Authentic) and not fuzzed.signed:
                    problems.append(f"offset {offset} ({fuzzed.kind}): accepted, but these bytes were never signed")
                if decoded is not None:
                    batch.append((consumed, decoded, basis, record_digest(raw.key, raw.value, raw.headers)))
                    problems += independent.differs(offset, fuzzed, decoded, basis.judged_at_ms)
                offset += 1
            advance = [PartitionAdvance(0, written or None, offset)]
            async with store.batch("fuzz", uuid.uuid4()) as transaction:
                ledgers = await transaction.fence(advance)
                keys = form_keys(judged[1] for judged in batch)
                changes = tabulate(batch, await transaction.deciding_forms(keys))
                await transaction.write(changes, anchor(changes.entries(), ledgers))
                check_copies(changes, problems)
            outcomes.update(f"{o.judgement.outcome} {o.judgement.reason or ''}".strip() for o in changes.outcomes)
            written = offset
            if offset % 20_000 == 0 or offset == records:
                print(f"  {offset:,} records decoded and written ...", flush=True)
        elapsed = time.monotonic() - started
        async with pool.acquire() as conn:
            rows = await conn.fetchval("SELECT count(*) FROM rekap.record WHERE topic = 'fuzz'")
        if rows != records:
            problems.append(f"{rows} outcome rows for {records} records")
        if outcomes["rejected unstorable_record"]:
            problems.append(f"{outcomes['rejected unstorable_record']} records were unstorable")
    finally:
        await pool.close()
    times.sort()
    row = {
        "records": f"{records:,}",
        "kinds": ", ".join(f"{k}: {n:,}" for k, n in sorted(kinds.items())),
        "decode µs median / p99.9 / worst": (
            f"{times[len(times) // 2] * 1e6:.0f} / {times[int(len(times) * 0.999)] * 1e6:.0f} / {times[-1] * 1e6:.0f}"
        ),
        "decoded + written in s": f"{elapsed:.1f}",
        "outcomes": ", ".join(f"{k}: {n:,}" for k, n in outcomes.most_common()),
        "raised / unsigned accepted / unstored": f"{len(problems)}",
        "result": "OK" if not problems else "FAILED",
    }
    return row, problems


class IndependentJudge:
    """tools/verify_bundle.py's judge of a record, over the same master data and terminals as the decoder."""

    def __init__(self, dataset: MasterDataSet, secret: bytes, size: int) -> None:
        spec = importlib.util.spec_from_file_location("verify_bundle", ROOT / "tools" / "verify_bundle.py")
        assert spec is not None
        assert spec.loader is not None
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.registry = self.module.Registry()
        for _ in range(size - len(dataset.tps) - len({t.kecamatan for t in dataset.tps})):
            self.registry.add(b'{"at": "2024-11-01T00:00:00.000000Z", "kind": "masterdata", "dataset": "x", '
                              b'"sha256": "' + b"0" * 64 + b'"}')  # fmt: skip
        for t in simulated_terminals(dataset.tps, secret):
            self.registry.add(json.dumps({"at": "2024-11-01T00:00:00.000000Z", "kind": "register",
                                          "terminal_id": t.terminal_id, "scope": str(t.scope),
                                          "public_key": base64.b64encode(t.public_key).decode()}).encode())  # fmt: skip
        self.size = size
        with tempfile.TemporaryDirectory() as folder:
            write_master_data(dataset, Path(folder))
            self.master = self.module.Master(Path(folder), self.module.Findings())

    def differs(self, offset: int, fuzzed: Fuzzed, decoded: Decoded, at_ms: int) -> list[str]:
        raw = fuzzed.record
        headers = [(n.encode("utf-8", "surrogateescape"), v) for n, v in raw.headers]
        verdict, found = self.module.judge(raw.key, raw.value, headers, registry=self.registry, master=self.master,
                                           size=self.size, judged_at_ms=at_ms, verified=True)  # fmt: skip
        if isinstance(decoded, Authentic):
            ours: tuple[object, ...] = ("form", int(decoded.authority), [p.value for p in decoded.problems])
        else:
            ours = ("rejected", decoded.reason.value)
        theirs = ("form", found["_authority"], found["_problems"]) if verdict == "form" else ("rejected", found)
        if ours == theirs or (ours[0] == theirs[0] == "rejected" and {ours[1], theirs[1]} <= self.module.NOT_A_FORM):
            return []
        return [f"offset {offset} ({fuzzed.kind}): Rekap judged {ours}, the independent verifier {theirs}"]


def check_copies(changes: BatchChanges, problems: list[str]) -> None:
    """Every rejected record's dead-letter copy, as DeadLetters would send it, stays under the bound."""
    for outcome in changes.rejected():
        key, value, headers = copy_of(outcome)
        size = len(key or b"") + len(value or b"") + sum(len(n.encode()) + len(v or b"") for n, v in headers)
        if size > MAX_COPY_BYTES:
            problems.append(f"offset {outcome.record.offset}: a dead-letter copy of {size} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    row, problems = asyncio.run(run(args.records, args.seed))
    write_results("fuzz", "Fuzz: decoder and writer", "python -m loadtests.fuzz " + " ".join(sys.argv[1:]), [row], [])
    print("\n".join(problems[:50]), file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
