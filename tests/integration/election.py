"""A generated election for the tabulator tests: forms from many TPS with everything that goes wrong
on a real night, each record labelled with the outcome it must get, and an oracle of the totals that
is computed here, independently of the tabulator's code."""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from rekap.adapters.postgres.terminals import register_terminals
from rekap.domain.regions import Tps
from rekap.domain.signing import SigningKey
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.masterdata.files import MasterDataSet, read_master_data
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import Form, consistent_form, encode, kpps_terminal_id

SECRET = b"integration-election"
SHIPPED = read_master_data(sumsel_master_data_dir())


def key_of(terminal_id: str) -> SigningKey:
    return SigningKey.derived(SECRET, terminal_id)


def ppk_terminal_id(kecamatan: str) -> str:
    return f"ppk-{kecamatan}"


@dataclass(frozen=True)
class Planned:
    """One record to publish, and the outcome (and reason) it must be recorded with."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    outcome: str
    reason: str | None = None


@dataclass
class Oracle:
    """The forms that must decide, per (TPS, contest): the highest authentic revision, its first content."""

    deciding: dict[tuple[str, str], tuple[int, Form, bool]] = field(default_factory=dict)  # rev, form, held

    def saw(self, form: Form, *, held: bool) -> None:
        key = (form["tps_id"], form["contest_id"])
        current = self.deciding.get(key)
        if current is None or form["revision"] > current[0]:
            self.deciding[key] = (form["revision"], form, held)

    def summary(self, dataset: MasterDataSet) -> dict[tuple[str, str, str], dict[str, int]]:
        """(level, region, contest) -> valid, invalid, ballots_used, tps_expected, tps_counted, tps_quarantined."""
        rows: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        master = dataset.master_data()
        for tps in dataset.tps:
            for contest in master.contests_at(tps.tps_id):
                for level, region in regions_of(tps.tps_id):
                    rows[(level, region, contest.contest_id)]["tps_expected"] += 1
        for (tps_id, contest_id), (_, form, held) in self.deciding.items():
            for level, region in regions_of(tps_id):
                row = rows[(level, region, contest_id)]
                if held:
                    row["tps_quarantined"] += 1
                    continue
                row["tps_counted"] += 1
                row["valid"] += form["valid"]
                row["invalid"] += form["invalid"]
                row["ballots_used"] += form["ballots"]["used"]
        return {k: {c: v.get(c, 0) for c in SUMMARY_COLUMNS} for k, v in rows.items()}

    def votes(self, dataset: MasterDataSet) -> dict[tuple[str, str, str, str], int]:
        result: dict[tuple[str, str, str, str], int] = defaultdict(int)
        master = dataset.master_data()
        contests = master.contests
        for tps in dataset.tps:
            for contest in master.contests_at(tps.tps_id):
                for level, region in regions_of(tps.tps_id):
                    for choice in contest.choices:
                        result[(level, region, contest.contest_id, choice)] += 0
        for (tps_id, contest_id), (_, form, held) in self.deciding.items():
            if held:
                continue
            assert set(form["votes"]) == contests[contest_id].choices
            for level, region in regions_of(tps_id):
                for choice, n in form["votes"].items():
                    result[(level, region, contest_id, choice)] += n
        return dict(result)


SUMMARY_COLUMNS = ("valid", "invalid", "ballots_used", "tps_expected", "tps_counted", "tps_quarantined")


def regions_of(tps_id: str) -> list[tuple[str, str]]:
    return [("kecamatan", tps_id[:6]), ("kabupaten_kota", tps_id[:4]), ("provinsi", tps_id[:2])]


def signed(
    form: Form, signer: str, *, value: bytes | None = None, key: str | None = None
) -> tuple[bytes, list[tuple[str, bytes]]]:
    body = encode(form) if value is None else value
    return body, [("content-type", b"application/json"), ("signature", key_of(key or signer).sign(body))]


def corrected(form: Form, rng: random.Random, revision: int) -> Form:
    """The same form with one vote moved between choices and a new revision: still consistent."""
    new = json.loads(json.dumps(form))
    new["revision"] = revision
    new["submission_id"] = f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
    choices = sorted(new["votes"])
    giver = next(c for c in choices if new["votes"][c] > 0)  # sampled TPS have hundreds of voters
    new["votes"][giver] -= 1
    new["votes"][choices[-1] if giver != choices[-1] else choices[0]] += 1
    return new


def misread(form: Form, revision: int) -> Form:
    """Sirekap's error: a 1 read as a 6 in the hundreds of the first choice's votes."""
    new = json.loads(json.dumps(form))
    new["revision"] = revision
    first = min(new["votes"])
    new["votes"][first] += 500
    return new


def plan_election(tps_list: list[Tps], seed: int = 2024) -> tuple[list[Planned], Oracle]:
    """Both contests of every TPS, with duplicates, corrections (also by the PPK), out-of-order and
    conflicting revisions, misread (held) forms, malformed, forged and out-of-scope records."""
    rng = random.Random(seed)
    master = SHIPPED.master_data()
    oracle = Oracle()
    planned: list[Planned] = []

    def add(form: Form, outcome: str, reason: str | None = None, *, signer: str | None = None,
            key: str | None = None, value: bytes | None = None, held: bool = False) -> None:  # fmt: skip
        body, headers = signed(form, signer or form["terminal_id"], value=value, key=key)
        planned.append(Planned(form["tps_id"].encode(), body, headers, outcome, reason))
        if outcome in ("accepted", "quarantined"):
            oracle.saw(form, held=held)

    for index, tps in enumerate(tps_list):
        for contest in master.contests_at(tps.tps_id):
            form = consistent_form(tps, contest, rng)
            case = rng.random()
            if case < 0.55:
                add(form, "accepted")
            elif case < 0.62:  # a mirror sends it twice; the terminal retries with a new submission id
                add(form, "accepted")
                add(form, "duplicate")
                retry = dict(form, submission_id="00000000-0000-4000-8000-" + f"{index:012d}")
                add(retry, "duplicate")
            elif case < 0.70:  # a correction, then the original arrives late
                second = corrected(form, rng, 2)
                add(form, "accepted")
                add(second, "accepted")
                add(form, "stale")
            elif case < 0.75:  # revision 3 overtakes revision 2: 2 is stale when it comes
                add(form, "accepted")
                add(corrected(form, rng, 3), "accepted")
                add(corrected(form, rng, 2), "stale")
            elif case < 0.80:  # the same revision twice with other numbers: the first stays
                add(form, "accepted")
                add(corrected(form, rng, 1), "rejected", "revision_conflict")
            elif case < 0.86:  # misread, held; then corrected by the PPK of the kecamatan
                add(misread(form, 1), "quarantined", "votes_sum_ne_valid", held=True)
                fixed = dict(corrected(form, rng, 2), terminal_id=ppk_terminal_id(tps.kecamatan))
                add(fixed, "accepted")
            elif case < 0.90:  # misread and never corrected: stays held
                add(misread(form, 1), "quarantined", "votes_sum_ne_valid", held=True)
            elif case < 0.93:  # forged: right terminal id, wrong key; then the real one
                add(form, "rejected", "bad_signature", key="an-attacker")
                add(form, "accepted")
            elif case < 0.96:  # another TPS's terminal, with its own valid key, out of its scope
                other = kpps_terminal_id(tps_list[(index + 1) % len(tps_list)].tps_id)
                add(dict(form, terminal_id=other), "rejected", "terminal_not_authorized")
                add(form, "accepted")
            else:  # broken bytes, then the real one
                add(form, "rejected", "malformed_json", value=encode(form)[:-7])
                add(form, "accepted")
    return planned, oracle


def sample_tps(count: int) -> list[Tps]:
    """TPS spread over every kabupaten/kota and many kecamatan."""
    step = max(1, len(SHIPPED.tps) // count)
    return SHIPPED.tps[::step][:count]


async def register_all_terminals(conn: asyncpg.Connection, tps_list: list[Tps]) -> None:
    terminals = [
        Terminal(
            kpps_terminal_id(t.tps_id), key_of(kpps_terminal_id(t.tps_id)).public_key, Scope(ScopeKind.TPS, t.tps_id)
        )
        for t in tps_list
    ]
    for kecamatan in sorted({t.kecamatan for t in tps_list}):
        terminal_id = ppk_terminal_id(kecamatan)
        terminals.append(Terminal(terminal_id, key_of(terminal_id).public_key, Scope(ScopeKind.KECAMATAN, kecamatan)))
    await register_terminals(conn, terminals)


async def publish(bootstrap: str, topic: str, planned: list[Planned]) -> dict[int, int]:
    """Send in order (idempotent, acks=all); returns the end offset of each partition written."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, p.value, key=p.key, headers=p.headers) for p in planned]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    ends: dict[int, int] = {}
    for metadata in sent:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    return ends


async def applied(conn: asyncpg.Connection, topic: str) -> dict[int, int]:
    rows = await conn.fetch("SELECT partition, next_offset FROM rekap.partition_offset WHERE topic = $1", topic)
    return {r["partition"]: r["next_offset"] for r in rows}


async def wait_applied(
    database_url: str, topic: str, ends: dict[int, int], timeout: float = 120.0, watch: asyncio.Task[None] | None = None
) -> None:
    """Until every partition is applied up to its end; fails at once if the watched tabulator dies."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while (done := await applied(conn, topic)) != ends:
            if watch is not None and watch.done():
                watch.result()
                raise AssertionError("the tabulator stopped before it was done")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not all applied within {timeout} s: {done} of {ends}")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def read_summary(conn: asyncpg.Connection) -> dict[tuple[str, str, str], dict[str, int]]:
    rows = await conn.fetch("SELECT * FROM hasil.summary")
    return {(r["level"], r["region_code"], r["contest_id"]): {c: r[c] for c in SUMMARY_COLUMNS} for r in rows}


async def read_votes(conn: asyncpg.Connection) -> dict[tuple[str, str, str, str], int]:
    rows = await conn.fetch("SELECT level, region_code, contest_id, choice, votes FROM hasil.votes")
    return {(r["level"], r["region_code"], r["contest_id"], r["choice"]): r["votes"] for r in rows}


async def check_against_oracle(database_url: str, topic: str, planned: list[Planned], oracle: Oracle) -> None:
    """Totals at every level equal the oracle's; exactly one outcome row per record, the planned one."""
    conn = await asyncpg.connect(database_url)
    try:
        summary = await read_summary(conn)
        votes = await read_votes(conn)
        rows = await conn.fetch(
            "SELECT outcome, reason, count(*) AS n FROM rekap.record WHERE topic = $1 GROUP BY outcome, reason", topic
        )
        total_rows = await conn.fetchval("SELECT count(*) FROM rekap.record WHERE topic = $1", topic)
    finally:
        await conn.close()
    expected_summary = oracle.summary(SHIPPED)
    assert summary.keys() == expected_summary.keys()
    wrong = {k: (summary[k], v) for k, v in expected_summary.items() if summary[k] != v}
    assert not wrong, f"{len(wrong)} summary rows differ, e.g. {next(iter(wrong.items()))}"
    expected_votes = oracle.votes(SHIPPED)
    assert votes.keys() == expected_votes.keys()
    wrong_votes = {k: (votes[k], v) for k, v in expected_votes.items() if votes[k] != v}
    assert not wrong_votes, f"{len(wrong_votes)} vote rows differ, e.g. {next(iter(wrong_votes.items()))}"
    assert total_rows == len(planned), "one outcome row per record, no more, no less"
    counted: dict[tuple[str, str | None], int] = defaultdict(int)
    for p in planned:
        counted[(p.outcome, p.reason)] += 1
    assert {(r["outcome"], r["reason"]): r["n"] for r in rows} == dict(counted)


def by_partition_offset(rows: list[Any]) -> dict[tuple[int, int], Any]:
    return {(r["partition"], r["offset"]): r for r in rows}
