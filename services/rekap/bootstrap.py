"""The composition root: builds the real tabulator (pool, consumer, producer, decoder) from Settings,
waiting with backoff for PostgreSQL and Kafka, and closes everything in reverse order."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from rekap.adapters.kafka.consumer import ConsumerOptions, TallyConsumer
from rekap.adapters.kafka.deadletters import DeadLetters
from rekap.adapters.kafka.photos import PHOTO_FETCH_BYTES
from rekap.adapters.kafka.topics import ensure_topics, retention_problems
from rekap.adapters.photos import photo_store
from rekap.adapters.postgres.connection import create_pool, one_snapshot
from rekap.adapters.postgres.errors import RETRIABLE, boundary
from rekap.adapters.postgres.masterdata import read_dataset, read_master_data
from rekap.adapters.postgres.photos import PoolPhotoIndex
from rekap.adapters.postgres.tabulation import TabulationStore, init_connection
from rekap.adapters.postgres.terminals import read_terminals, registry_size
from rekap.config import Settings
from rekap.domain.decode import Decoder
from rekap.errors import ConfigError
from rekap.photos.metrics import PhotoMetrics
from rekap.photos.service import PhotoService
from rekap.retry import retriable_rekap_error, until_available
from rekap.tabulator.metrics import MetricsServer, Observed, TabulatorMetrics
from rekap.tabulator.service import Tabulator

log = structlog.get_logger(__name__)
T = TypeVar("T")


def _outage(error: Exception) -> bool:
    """Kafka or PostgreSQL not answering (yet): worth waiting for at start-up."""
    return isinstance(error, (KafkaError, *RETRIABLE)) or retriable_rekap_error(error)


async def _until_available(what: str, attempt: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T:
    return await until_available(what, attempt, stop=stop, retriable=_outage)


@asynccontextmanager
async def tabulator_service(settings: Settings, stop: asyncio.Event) -> AsyncIterator[Tabulator]:
    async with AsyncExitStack() as stack:
        # 0. The metrics address first: a port another process holds is said at once, before anything joins.
        metrics = TabulatorMetrics()
        listening = _serve_metrics(stack, metrics, settings.metrics_address, "REKAP_METRICS_ADDRESS")
        pool: asyncpg.Pool = await _until_available(
            "PostgreSQL",
            lambda: create_pool(
                settings.dsn,
                min_size=1,
                max_size=3,
                init=init_connection,
                timeout=10,
                server_settings=session_settings(settings),
            ),
            stop,
        )
        stack.push_async_callback(pool.close)
        decoder = await _until_available("PostgreSQL", lambda: _decoder(pool, settings), stop)
        async with pool.acquire() as conn:
            dataset = await read_dataset(conn)
        if dataset is None:
            raise ConfigError("The database has no master data: run `rekap masterdata load` first.")

        known = decoder.registry_size

        async def refresh() -> Decoder | None:
            """A new decoder when the registry grew (a terminal registered or revoked, master data loaded)."""
            nonlocal known
            with boundary():
                current = await registry_size(pool)
            if current == known:
                return None
            new = await _decoder(pool, settings)
            known = new.registry_size
            return new

        topics = [topic for topic in settings.topics() if topic.name != settings.photo_topic]  # (see photo service)
        kafka = settings.kafka("tabulator")
        await _until_available("Kafka", lambda: ensure_topics(kafka, topics), stop)
        names = [topic.name for topic in topics]
        for problem in await _until_available("Kafka", lambda: retention_problems(kafka, names), stop):
            log.warning("topic_may_lose_records", problem=problem)
        producer = AIOKafkaProducer(
            **kafka.options(),
            acks="all",
            enable_idempotence=True,
            client_id=f"{settings.group_id}-dead-letters",
        )
        await _until_available("Kafka", producer.start, stop)
        stack.push_async_callback(producer.stop)
        store = TabulationStore(pool)
        consumer = TallyConsumer(kafka, settings.tally_topic, consumer_options(settings))
        await _until_available("Kafka", consumer.start, stop)
        stack.push_async_callback(consumer.stop)
        metrics.show_master_data(dataset)
        if listening is not None:
            log.info("metrics_listening", address=listening, paths=["/metrics", "/healthz", "/readyz"])
        log.info(
            "tabulator_started",
            topic=settings.tally_topic,
            group=settings.group_id,
            kafka=settings.bootstrap_servers,
            kafka_principal=kafka.principal,
            postgres=settings.dsn_for_display,
            verify_signatures=settings.verify_signatures,
            master_data=dataset.name,
            synthetic=dataset.synthetic,
        )
        if dataset.synthetic:
            log.warning(
                "master_data_synthetic",
                master_data=dataset.name,
                tps_source=dataset.tps_source,
                meaning="SYNTHETIC master data: this count is a simulation, not an election",
            )
        tabulator = Tabulator(
            consumer=consumer,
            store=store,
            dead_letters=DeadLetters(producer, settings.dead_letter_topic),
            decoder=decoder,
            refresh_decoder=refresh,
            metrics=metrics,
            refresh_every_s=settings.terminal_refresh_s,
        )
        tabulator.metrics_address = listening
        yield tabulator


@asynccontextmanager
async def photo_service(settings: Settings, stop: asyncio.Event) -> AsyncIterator[PhotoService]:
    """The photo consumer, as the tabulator's Kafka user and database login (it may do no more than the
    tabulator): its store, its index, its consumer."""
    async with AsyncExitStack() as stack:
        metrics = PhotoMetrics()
        listening = _serve_metrics(stack, metrics, settings.photo_metrics_address, "REKAP_PHOTO_METRICS_ADDRESS")
        pool: asyncpg.Pool = await _until_available(
            "PostgreSQL",
            lambda: create_pool(
                settings.dsn, min_size=1, max_size=2, timeout=10, server_settings=session_settings(settings)
            ),
            stop,
        )
        stack.push_async_callback(pool.close)
        store = photo_store(settings)
        kafka = settings.kafka("tabulator")
        options = ConsumerOptions(settings.photo_group_id, max_records=32, fetch_bytes=PHOTO_FETCH_BYTES)
        consumer = TallyConsumer(kafka, settings.photo_topic, options)
        await _until_available("Kafka", consumer.start, stop)
        stack.push_async_callback(consumer.stop)
        consumer.subscribe(assigned=_nothing, revoked=_nothing)  # each partition from the group's committed offset
        log.info(
            "photo_consumer_started",
            topic=settings.photo_topic,
            group=settings.photo_group_id,
            store=store.location(""),
            metrics=listening,
            postgres=settings.dsn_for_display,
        )
        service = PhotoService(source=consumer, index=PoolPhotoIndex(pool), store=store, metrics=metrics)
        service.metrics_address = listening
        yield service


def _serve_metrics(stack: AsyncExitStack, metrics: Observed, address: str, variable: str) -> str | None:
    """/metrics, /healthz and /readyz on `address` (set by `variable`), stopped with the stack: where they listen
    (host:port, the port the system gave for port 0); None when the address is empty (turned off)."""
    if not address:
        return None
    server = metrics_server(metrics, address, variable)
    server.start()
    stack.callback(server.stop)
    return f"{address.rpartition(':')[0]}:{server.port}"


async def _nothing(partitions: list[int]) -> None:
    """A rebalance the photo consumer need not act on: it reads where the group committed, and what it holds
    it indexes harmlessly twice."""


def metrics_server(metrics: Observed, address: str, variable: str) -> MetricsServer:
    """/metrics on `address` (host:port), or a ConfigError saying why not (the port taken, say)."""
    host, _, port = address.rpartition(":")
    try:
        return MetricsServer(metrics, host or "0.0.0.0", int(port))  # noqa: S104 (as configured)
    except (OSError, ValueError, OverflowError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(
            f"{variable}={address}: cannot listen there ({why}): another service on this machine holds it? "
            "Give each its own port, or port 0 (any free one)."
        ) from None


def consumer_options(settings: Settings) -> ConsumerOptions:
    instance = settings.group_instance_id
    return ConsumerOptions(
        group_id=settings.group_id,
        max_records=settings.batch_max_records,
        session_timeout_ms=settings.session_timeout_ms,
        group_instance_id=instance.replace("{hostname}", socket.gethostname()) if instance else None,
    )


def session_settings(settings: Settings) -> dict[str, str]:
    """A frozen or cut-off tabulator must not hold its row locks for long: the server ends what waits
    too long, and probes the connection so that a vanished client is noticed in about a minute."""
    return {
        "statement_timeout": f"{int(settings.db_statement_timeout_s * 1000)}",
        "lock_timeout": f"{int(settings.db_lock_timeout_s * 1000)}",
        "idle_in_transaction_session_timeout": f"{int(settings.db_idle_in_transaction_timeout_s * 1000)}",
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
        "application_name": f"rekap-tabulator {settings.group_id}"[:63],
    }


async def _decoder(pool: asyncpg.Pool, settings: Settings) -> Decoder:
    """The master data and terminals as the registry holds them at one size, read in one snapshot: each
    record's ledger leaf names that size, and a verifier judges it against exactly those."""
    async with pool.acquire() as conn, one_snapshot(conn):
        size = await registry_size(conn)
        master = await read_master_data(conn)
        terminals = await read_terminals(conn)
    if not master.tps or not master.contests:
        raise ConfigError("The database has no master data: run `rekap masterdata load` first.")
    decoder = Decoder(master, terminals, verify_signatures=settings.verify_signatures, registry_size=size)
    _freeze_long_lived()
    return decoder


def _freeze_long_lived() -> None:
    """The master data and the terminals (about 670,000 objects at national scale) live as long as the
    process: out of the garbage collector's sight (frozen), so that no pass walks them. Frozen objects
    are still freed when no longer referenced (a reload's old decoder); a reload collects and freezes
    again. (`rekap tabulator run` also turns the automatic collector off: see cli/tabulator.py.)"""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
