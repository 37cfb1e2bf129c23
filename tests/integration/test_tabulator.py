"""The tabulator against the real broker and database: a generated election counted exactly, whatever
happens to the tabulators (killed, stopped, two at once), checked against an independent oracle."""

from __future__ import annotations

import asyncio
import json
import random
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from loadtests.processes import TabulatorProcess, log_events, spawn
from prometheus_client.parser import text_string_to_metric_families

from rekap.access import KafkaAccess
from rekap.adapters.postgres import night_check as check
from rekap.bootstrap import tabulator_service
from rekap.domain.signing import SigningKey
from rekap.simulation.forms import consistent_form, encode
from tests.integration.election import (
    SECRET,
    SHIPPED,
    Planned,
    check_against_oracle,
    plan_election,
    publish,
    register_all_terminals,
    sample_tps,
    settings_for,
    wait_applied,
)
from tests.servers import BrokerAccess


async def test_a_generated_election_is_counted_exactly(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection
) -> None:
    tps = sample_tps(2000)
    planned, oracle = plan_election(tps)
    await register_all_terminals(conn, tps)
    half = len(planned) // 2
    ends = await publish(kafka.terminals, topic, planned[:half])  # a backlog before the tabulator starts
    settings = settings_for(kafka, election_database_url, topic)
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        later = await publish(kafka.terminals, topic, planned[half:])  # and the rest while it runs
        ends = {p: max(ends.get(p, 0), later.get(p, 0)) for p in ends.keys() | later.keys()}
        await wait_applied(election_database_url, topic, ends, watch=running)
        stop.set()
        await running
    await check_against_oracle(election_database_url, topic, planned, oracle)

    # every rejected record, and nothing else, was copied to the dead letters with its reason
    expected = Counter(p.reason for p in planned if p.outcome == "rejected")
    assert await dead_letter_reasons(kafka.admin, settings.dead_letter_topic, sum(expected.values())) == expected


async def dead_letter_reasons(admin: KafkaAccess, topic: str, count: int) -> Counter[str]:
    consumer = AIOKafkaConsumer(topic, **admin.options(), auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    reasons: Counter[str] = Counter()
    sources = set()
    try:
        while sum(reasons.values()) < count:
            batches = await consumer.getmany(timeout_ms=5000)
            assert batches, f"only {sum(reasons.values())} of {count} dead letters arrived"
            for messages in batches.values():
                for m in messages:
                    headers = dict(m.headers)
                    reasons[headers["rekap-reason"].decode()] += 1
                    sources.add(headers["rekap-source"])
        assert not await consumer.getmany(timeout_ms=1000), "more dead letters than rejected records"
    finally:
        await consumer.stop()
    assert len(sources) == count
    return reasons


async def test_a_terminal_registered_while_running_is_seen(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection
) -> None:
    tps = sample_tps(1)
    contest = SHIPPED.master_data().contests_at(tps[0].tps_id)[0]
    form = consistent_form(tps[0], contest, random.Random(1))
    body = encode(form)
    headers = [("signature", SigningKey.derived(SECRET, form["terminal_id"]).sign(body))]
    settings = settings_for(kafka, election_database_url, topic)
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        producer_ends = await publish_raw(kafka.terminals, topic, form["tps_id"].encode(), body, headers)
        await wait_applied(election_database_url, topic, producer_ends, watch=running)
        await register_all_terminals(conn, tps)
        await asyncio.sleep(1.5)  # the tabulator looks for new terminals every 0.5 s here
        producer_ends = await publish_raw(kafka.terminals, topic, form["tps_id"].encode(), body, headers)
        await wait_applied(election_database_url, topic, producer_ends, watch=running)
        stop.set()
        await running
    outcomes = await conn.fetch('SELECT outcome, reason FROM rekap.record WHERE topic = $1 ORDER BY "offset"', topic)
    assert [(r["outcome"], r["reason"]) for r in outcomes] == [("rejected", "unknown_terminal"), ("accepted", None)]


async def publish_raw(
    terminals: KafkaAccess, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> dict[int, int]:
    return await publish(terminals, topic, [Planned(key, value, headers, "")])


# -- the service as a process ------------------------------------------------------------------


async def wait_progress(conn: asyncpg.Connection, topic: str, at_least: int, timeout: float = 90) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while (done := sum((await check.applied(conn, topic)).values())) < at_least:
        assert asyncio.get_running_loop().time() < deadline, f"only {done} of {at_least} records applied"
        await asyncio.sleep(0.05)
    return done


async def test_killed_mid_batch_and_restarted_ends_exact(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection,
    tabulator_env: dict[str, str], processes: list[TabulatorProcess], tmp_path: Path,
) -> None:  # fmt: skip
    tps = sample_tps(1500)
    planned, oracle = plan_election(tps, seed=7)
    await register_all_terminals(conn, tps)
    ends = await publish(kafka.terminals, topic, planned)
    total = sum(ends.values())
    first = spawn(processes, tabulator_env, tmp_path)
    await wait_progress(conn, topic, total // 4)
    first.kill()  # SIGKILL: no goodbye, a transaction may be half done
    at_kill = sum((await check.applied(conn, topic)).values())
    assert 0 < at_kill < total, "the kill must land in the middle of the work"
    second = spawn(processes, tabulator_env, tmp_path)
    await wait_progress(conn, topic, at_kill + total // 4)
    second.kill()
    third = spawn(processes, tabulator_env, tmp_path)
    await wait_applied(election_database_url, topic, ends, timeout=120)
    assert third.terminate() == 0
    await check_against_oracle(election_database_url, topic, planned, oracle)


async def test_two_tabulators_with_rebalances_end_exact(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection,
    tabulator_env: dict[str, str], processes: list[TabulatorProcess], tmp_path: Path,
) -> None:  # fmt: skip
    tps = sample_tps(1500)
    planned, oracle = plan_election(tps, seed=11)
    await register_all_terminals(conn, tps)
    third = len(planned) // 3
    ends = await publish(kafka.terminals, topic, planned[:third])
    a = spawn(processes, tabulator_env, tmp_path)
    await wait_progress(conn, topic, third // 3)
    b = spawn(processes, tabulator_env, tmp_path)  # joins: the partitions are shared out again
    await wait_for_assignment(b, lambda partitions: 0 < len(partitions) < 3)
    more = await publish(kafka.terminals, topic, planned[third : 2 * third])
    await wait_progress(conn, topic, third + third // 2)
    assert a.terminate() == 0  # leaves: b takes everything
    rest = await publish(kafka.terminals, topic, planned[2 * third :])
    ends = {p: max(ends.get(p, 0), more.get(p, 0), rest.get(p, 0)) for p in ends.keys() | more.keys() | rest.keys()}
    await wait_applied(election_database_url, topic, ends, timeout=120)
    assert b.terminate() == 0
    await check_against_oracle(election_database_url, topic, planned, oracle)
    # b shared the partitions with a first, then had them all
    assigned = [set(e["partitions"]) for e in log_events(b.log) if e["event"] == "partitions_assigned"]
    assert any(0 < len(p) < 3 for p in assigned), f"b never shared the partitions: {assigned}"
    assert assigned[-1] == {0, 1, 2}


async def wait_for_assignment(
    process: TabulatorProcess, wanted: Callable[[set[int]], bool], timeout: float = 60
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(wanted(set(e["partitions"])) for e in log_events(process.log) if e["event"] == "partitions_assigned"):
        assert asyncio.get_running_loop().time() < deadline, "the expected assignment never came"
        await asyncio.sleep(0.1)


async def published_election(
    conn: asyncpg.Connection, terminals: KafkaAccess, topic: str, *, tps: int, seed: int
) -> dict[int, int]:
    """A STRESS night over `tps` TPS, terminals registered, all in the topic: its end offsets."""
    chosen = sample_tps(tps)
    planned, _ = plan_election(chosen, seed=seed)
    await register_all_terminals(conn, chosen)
    return await publish(terminals, topic, planned)


async def test_metrics_health_and_readiness_tell_the_truth(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection
) -> None:
    ends = await published_election(conn, kafka.terminals, topic, tps=300, seed=3)
    stop = asyncio.Event()
    async with tabulator_service(settings_for(kafka, election_database_url, topic), stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        await wait_applied(election_database_url, topic, ends, watch=running)
        await asyncio.sleep(1.2)  # progress gauges follow every refresh period (0.5 s here)
        base = f"http://{tabulator.metrics_address}"
        health = await asyncio.to_thread(fetch, f"{base}/healthz")
        ready = json.loads(await asyncio.to_thread(fetch, f"{base}/readyz"))
        samples = parse_metrics(await asyncio.to_thread(fetch, f"{base}/metrics"))
        stop.set()
        await running
    assert health == "ok\n"
    assert ready == {"ready": True, "kafka": True, "postgres": True, "partitions": 3}
    recorded = {(r["outcome"], r["reason"] or ""): r["n"] for r in await conn.fetch(
        "SELECT outcome, reason, count(*) AS n FROM rekap.record WHERE topic = $1 GROUP BY 1, 2", topic)}  # fmt: skip
    exported = {(labels["outcome"], labels["reason"]): value for name, labels, value in samples
                if name == "rekap_records_total"}  # fmt: skip
    assert exported == recorded
    summary = {r["region_code"] + r["contest_id"]: r for r in await conn.fetch(
        "SELECT * FROM hasil.summary WHERE level = 'kabupaten_kota'")}  # fmt: skip
    for name, column in (("rekap_tps_counted", "tps_counted"), ("rekap_tps_expected", "tps_expected"),
                         ("rekap_tps_quarantined", "tps_quarantined")):  # fmt: skip
        gauges = {labels["kabupaten_kota"] + labels["contest"]: value for n, labels, value in samples if n == name}
        assert {k: v for k, v in gauges.items() if v} == {k: r[column] for k, r in summary.items() if r[column]}
    names = {labels["kabupaten_kota"]: labels["name"] for n, labels, _ in samples if n == "rekap_region_info"}
    assert names == {r["region_code"]: r["region_name"] for r in summary.values()}, "the names KPU's views give"
    lag = [value for name, _, value in samples if name == "rekap_consumer_lag"]
    assert lag == [0, 0, 0]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for family in text_string_to_metric_families(text):
        samples += [(s.name, dict(s.labels), s.value) for s in family.samples]
    return samples


async def test_two_replicas_progress_gauges_add_up_without_doubling(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection
) -> None:
    ends = await published_election(conn, kafka.terminals, topic, tps=300, seed=4)
    stop = asyncio.Event()
    settings = settings_for(kafka, election_database_url, topic)
    async with tabulator_service(settings, stop) as a, tabulator_service(settings, stop) as b:
        running = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
        await wait_applied(election_database_url, topic, ends)
        for _ in range(300):  # b's joining makes a rebalance, done at a's next heartbeat
            if a.metrics.health.partitions and b.metrics.health.partitions:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # then a refresh period or three for the gauges
        scraped = [parse_metrics(await asyncio.to_thread(fetch, f"http://{t.metrics_address}/metrics")) for t in (a, b)]
        stop.set()
        await asyncio.gather(*running)
    owned = [sum(1 for n, _, _ in samples if n == "rekap_committed_offset") for samples in scraped]
    assert sorted(owned) == [1, 2], "the three partitions are shared out"
    totals = await conn.fetchrow(
        "SELECT sum(tps_counted) AS counted, sum(tps_expected) AS expected FROM hasil.summary WHERE level = 'provinsi'"
    )
    assert totals is not None

    def summed(name: str) -> float:
        return sum(value for samples in scraped for n, _, value in samples if n == name)

    assert summed("rekap_tps_counted") == totals["counted"]
    assert summed("rekap_tps_expected") == totals["expected"]
    named = [
        sorted(labels["kabupaten_kota"] for n, labels, _ in samples if n == "rekap_region_info") for samples in scraped
    ]
    assert sorted(map(len, named)) == [0, 17], "the names come from the owner of partition 0 alone"


async def test_a_frozen_tabulator_loses_its_partitions_in_time_and_counts_nothing_twice_when_it_wakes(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection,
    tabulator_env: dict[str, str], processes: list[TabulatorProcess], tmp_path: Path,
) -> None:  # fmt: skip
    env = {**tabulator_env, "REKAP_DB_IDLE_IN_TRANSACTION_TIMEOUT_S": "3", "REKAP_DB_LOCK_TIMEOUT_S": "2",
           "REKAP_BATCH_MAX_RECORDS": "100"}  # fmt: skip
    tps = sample_tps(1000)
    planned, oracle = plan_election(tps, seed=13)
    await register_all_terminals(conn, tps)
    ends = await publish(kafka.terminals, topic, planned)
    a = spawn(processes, env, tmp_path)
    await wait_progress(conn, topic, len(planned) // 4)
    # Catch a in the middle of a batch transaction (its offset rows locked), and freeze it there.
    async with conn.transaction():
        await conn.execute("LOCK TABLE rekap.tally IN EXCLUSIVE MODE")  # a's next batch waits for the totals
        await wait_until(conn, "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted")
        a.freeze()  # alive, connected, silent, inside its transaction
    frozen_at = asyncio.get_running_loop().time()
    b = spawn(processes, env, tmp_path)
    await wait_for_assignment(b, lambda partitions: partitions == {0, 1, 2}, timeout=60)
    await wait_applied(election_database_url, topic, ends, timeout=60)
    taken_over = asyncio.get_running_loop().time() - frozen_at
    a.thaw()  # wakes up believing it still owns its partitions: it must be fenced, not count again
    await asyncio.sleep(5)
    assert b.terminate() == 0
    a.terminate()
    await check_against_oracle(election_database_url, topic, planned, oracle)
    # the group's session timeout (6 s here), a rebalance and the server ending a's idle transaction
    # (3 s here): not the hours of a dead TCP connection
    assert taken_over < 45, f"everything was counted only {taken_over:.0f} s after a froze"


async def wait_until(conn: asyncpg.Connection, query: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await conn.fetchval(query):
        assert asyncio.get_running_loop().time() < deadline, f"never: {query}"
        await asyncio.sleep(0.05)


async def test_a_terminal_registered_a_moment_before_its_first_form_is_not_rejected(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection
) -> None:
    """Between two periodic looks for new terminals (an hour apart here), a form from a terminal the
    tabulator has never seen is looked up in the database before it is judged unknown."""
    tps = sample_tps(1)
    contest = SHIPPED.master_data().contests_at(tps[0].tps_id)[0]
    form = consistent_form(tps[0], contest, random.Random(2))
    body = encode(form)
    headers = [("signature", SigningKey.derived(SECRET, form["terminal_id"]).sign(body))]
    settings = settings_for(kafka, election_database_url, topic).model_copy(update={"terminal_refresh_s": 3600})
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        await asyncio.sleep(1)  # started, its terminals read (none yet)
        await register_all_terminals(conn, tps)
        producer_ends = await publish_raw(kafka.terminals, topic, form["tps_id"].encode(), body, headers)
        await wait_applied(election_database_url, topic, producer_ends, watch=running)
        stop.set()
        await running
    outcome = await conn.fetchrow("SELECT outcome, reason FROM rekap.record WHERE topic = $1", topic)
    assert outcome is not None
    assert (outcome["outcome"], outcome["reason"]) == ("accepted", None)
