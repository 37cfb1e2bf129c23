"""No single server's loss loses a vote: a Kafka cluster of three losing the leader of a partition being
written, and a PostgreSQL primary lost and its synchronous standby promoted, each while the tabulator runs.
Every total at every level ends equal to what the terminals were told was written, one outcome per record.
(The same faults at deployment scale, with records per second and recovery times: `make chaos-cluster`.)"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from rekap.access import KafkaAccess, Topic
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.replication import (
    in_recovery,
    replicas,
    set_replication_login,
    set_synchronous_standby,
)
from rekap.bootstrap import tabulator_service
from rekap.config import KAFKA_VERSION
from rekap.devstack.kafka import LocalKafka, cluster_id_of, start_nodes, stop_nodes
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.process import free_port
from rekap.devstack.secrets import local_postgres_url
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from tests.conftest import jar_cache
from tests.integration.election import (
    check_against_oracle,
    plan_election,
    publish,
    register_all_terminals,
    sample_tps,
    settings_for,
    wait_applied,
)
from tests.servers import BrokerAccess, provision_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LocalKafka]]:
    """Three KRaft nodes (each broker and controller) on loopback, as `rekap stack up --brokers 3` runs them."""
    ports = [(free_port(), free_port()) for _ in range(3)]
    voters = tuple((n, controller) for n, (_, controller) in enumerate(ports, 1))
    broker_password, admin_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    state = tmp_path_factory.mktemp("cluster")
    nodes = [
        LocalKafka(KAFKA_VERSION, jar_cache(), state / f"kafka-{n}", port, controller, broker_password, admin_password,
                   node_id=n, voters=voters)
        for n, (port, controller) in enumerate(ports, 1)
    ]  # fmt: skip
    start_nodes(nodes)
    try:
        yield nodes
    finally:
        stop_nodes(nodes)


def admin_of(nodes: list[LocalKafka]) -> KafkaAccess:
    return KafkaAccess(",".join(n.bootstrap_servers for n in nodes), "admin", nodes[0].admin_password)


async def leader_of(admin: KafkaAccess, topic: str, partition: int) -> tuple[int, list[int]]:
    """The partition's leader (node id) and its in-sync replicas."""
    client = AIOKafkaAdminClient(**admin.options())
    await client.start()
    try:
        (described,) = await client.describe_topics([topic])
    finally:
        await client.close()
    (found,) = [p for p in described["partitions"] if p["partition"] == partition]
    return found["leader"], sorted(found["isr"])


async def topic_config(admin: KafkaAccess, topic: str) -> dict[str, str]:
    client = AIOKafkaAdminClient(**admin.options())
    await client.start()
    try:
        (response,) = await client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await client.close()
    return {entry[0]: entry[1] for _, _, _, _, entries in response.resources for entry in entries}


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.5)


async def night_with_a_fault(
    kafka: BrokerAccess,
    url: str,
    seed: int,
    lose: Callable[[], Awaitable[None]],
    recover: Callable[[asyncio.Task[None]], Awaitable[None]],
    topic: str,
) -> None:
    """Half a night counted; a server lost (`lose`); the other half sent meanwhile; `recover` (given the
    running tabulator); then until all is counted, and the oracle check."""
    conn = await pg.connect(url)
    try:
        if not await conn.fetchval("SELECT count(*) FROM rekap.tps"):
            await load_master_data(conn, read_master_data_folder(sumsel_master_data_dir()))
        tps = sample_tps(300)
        await register_all_terminals(conn, tps)
    finally:
        await conn.close()
    planned, oracle = plan_election(tps, seed=seed)
    half = len(planned) // 2
    ends = await publish(kafka.terminals, topic, planned[:half])
    stop = asyncio.Event()
    async with tabulator_service(settings_for(kafka, url, topic), stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        await wait_applied(url, topic, ends, watch=running)
        await lose()
        more = await publish(kafka.terminals, topic, planned[half:])  # acks=all: two brokers of three hold each
        await recover(running)
        ends = {p: max(ends.get(p, 0), more.get(p, 0)) for p in ends.keys() | more.keys()}
        await wait_applied(url, topic, ends, watch=running)
        stop.set()
        await running
    await check_against_oracle(url, topic, planned, oracle)


async def test_a_cluster_losing_a_partition_leader_loses_no_record(
    cluster: list[LocalKafka], election_database_url: str
) -> None:
    kafka = BrokerAccess(admin_of(cluster))
    await asyncio.to_thread(kafka.set_users)
    topic = f"cluster-{secrets.token_hex(6)}"
    await kafka.new_topic(topic)
    leader, isr = await leader_of(kafka.admin, topic, 0)
    assert isr == [1, 2, 3], "every partition on the three brokers"
    assert (await topic_config(kafka.admin, topic))["min.insync.replicas"] == "2"

    killed = next(node for node in cluster if node.node_id == leader)

    async def lose_the_leader() -> None:
        pid = killed.process.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the leader of partition 0, while records still come

    async def leadership_moved(_: asyncio.Task[None]) -> None:
        assert (await leader_of(kafka.admin, topic, 0))[0] != leader

    await night_with_a_fault(kafka, election_database_url, 25, lose_the_leader, leadership_moved, topic)
    await asyncio.to_thread(killed.start)  # it rejoins and catches up: three in sync again

    async def caught_up() -> bool:
        return (await leader_of(kafka.admin, topic, 0))[1] == [1, 2, 3]

    await until(caught_up)


async def test_a_broker_that_lost_its_disk_rejoins_and_the_cluster_still_knows_its_users(
    cluster: list[LocalKafka],
) -> None:
    """Formatted anew and started, it takes its old place in the controllers' quorum (not as the voter whose
    log it lost); then the whole cluster, stopped and started twice, still has its users and its topics."""
    kafka = BrokerAccess(admin_of(cluster))
    await asyncio.to_thread(kafka.set_users)
    topic = f"disk-{secrets.token_hex(6)}"
    await kafka.new_topic(topic)
    lost = cluster[2]
    pid = lost.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    shutil.rmtree(lost.data_dir)  # its disk, gone
    await asyncio.to_thread(lost.start, cluster_id=cluster_id_of(cluster[0]))

    async def caught_up() -> bool:
        return (await leader_of(kafka.admin, topic, 0))[1] == [1, 2, 3]

    await until(caught_up)
    for _ in range(2):
        await asyncio.to_thread(stop_nodes, cluster)
        await asyncio.to_thread(start_nodes, cluster)
        await until(caught_up)  # the admin logs in, and every partition is on three brokers again
        assert await ensure_topics(kafka.terminals, [Topic(topic, 3)]) == [], "the terminals' login still works"


@pytest.fixture
async def primary_and_standby() -> AsyncIterator[tuple[LocalPostgres, LocalPostgres]]:
    """A primary (fsync on: its commits wait for the standby) and a synchronous streaming standby of it, as
    `rekap stack up --standby` makes them, with Rekap's database on them."""
    state = Path(tempfile.mkdtemp(prefix="rekap-tests-standby-"))  # outside pytest's folder, see conftest
    password = secrets.token_urlsafe(18)
    primary = LocalPostgres(state / "primary", free_port(), password)
    standby = LocalPostgres(state / "standby", free_port(), password)
    try:
        await asyncio.to_thread(primary.start)
        await provision_database(primary.url, "rekap")
        replicator = secrets.token_urlsafe(18)
        await set_replication_login(primary.url, "replicator", replicator)
        await asyncio.to_thread(standby.clone_from, primary, "replicator", replicator, "rekap_standby")
        await asyncio.to_thread(standby.start)
        await set_synchronous_standby(primary.url, "rekap_standby")
        yield primary, standby
    finally:
        for server in (primary, standby):
            await asyncio.to_thread(server.fence)
        shutil.rmtree(state, ignore_errors=True)


async def test_a_standby_promoted_while_the_tabulator_runs_loses_nothing(
    kafka: BrokerAccess, topic: str, primary_and_standby: tuple[LocalPostgres, LocalPostgres]
) -> None:
    primary, standby = primary_and_standby
    assert [(r.name, r.sync_state) for r in await replicas(primary.url)] == [("rekap_standby", "sync")]
    # What a tabulator is given: both servers, the session taking whichever accepts writes.
    url = local_postgres_url([primary.port, standby.port], "postgres", primary.password, "rekap", target="read-write")

    async def lose_the_primary() -> None:
        pid = primary.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the primary lost: no shutdown, no last words to its standby

    async def promote_the_standby(running: asyncio.Task[None]) -> None:
        await asyncio.sleep(2)  # the operator sees it (the alert), then promotes
        assert not running.done(), "the tabulator waits for a primary"
        await asyncio.to_thread(standby.promote)
        await set_synchronous_standby(standby.url, None)  # alone now: commits wait for no standby
        assert not await in_recovery(standby.url)

    await night_with_a_fault(kafka, url, 26, lose_the_primary, promote_the_standby, topic)
    # Everything the tabulator committed on the primary was on the standby's disk before the commit returned:
    # the oracle check above found every total exact on the promoted standby.


async def test_a_commit_returns_only_once_the_standby_has_it(
    primary_and_standby: tuple[LocalPostgres, LocalPostgres],
) -> None:
    """Synchronous replication: with the standby away, a commit on the primary waits (and returns once the
    standby is back): a commit that returned is on both disks."""
    primary, standby = primary_and_standby
    conn = await pg.connect(primary.url_for("rekap"))
    try:
        await conn.execute("CREATE TABLE probe (n integer)")
        await asyncio.to_thread(standby.stop)
        commit = asyncio.create_task(conn.execute("INSERT INTO probe VALUES (1)"))
        done, _ = await asyncio.wait([commit], timeout=3)
        assert not done, "the commit returned with no standby holding it"
        await asyncio.to_thread(standby.start)
        await asyncio.wait_for(commit, timeout=30)
    finally:
        await conn.close()
    reader = await pg.connect(standby.url_for("rekap"))
    try:
        assert await reader.fetchval("SELECT count(*) FROM probe") == 1
    finally:
        await reader.close()
