"""The local stack as one thing: `up`, `down`, `status`, `reset` of the brokers and the databases, and a
failover (`promote`) and the standby made again after one."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from rekap.adapters.postgres.replication import Replica, replicas, set_replication_login, set_synchronous_standby
from rekap.config import Settings
from rekap.devstack.kafka import LocalKafka, start_nodes, stop_nodes
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.process import require_free_port
from rekap.devstack.provision import provision_kafka, provision_postgres
from rekap.devstack.secrets import LOCAL_DATABASE, REPLICATION_LOGIN, StackSecrets
from rekap.devstack.shape import STANDBY_NAME, StackShape, broker_ports, postgres_port
from rekap.devstack.tabulator import PHOTOS_COMMAND, LocalTabulator
from rekap.errors import RekapError, StackError

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running, stopped, external
    address: str
    pid: int | None = None

    def line(self) -> str:
        pid = f"pid {self.pid}" if self.pid is not None else ""
        return f"{self.name:<10} {self.state:<9} {pid:<11} {self.address}"


@dataclass(frozen=True)
class LocalStack:
    """The servers Rekap runs itself, in the stack's shape; a server configured elsewhere (external) is left
    alone."""

    settings: Settings
    shape: StackShape
    kafka: list[LocalKafka]  # one node, or a cluster's three (empty: an external broker)
    postgres: dict[str, LocalPostgres]  # by name, every server the shape knows (empty: an external database)
    tabulator: LocalTabulator
    secrets: StackSecrets

    @classmethod
    def from_settings(cls, settings: Settings, wanted: StackShape | None = None) -> LocalStack:
        """The stack as it was made (its shape.json), or as `wanted` for a new one: a stack made in one shape
        is not changed into another (`rekap stack reset` first)."""
        # Made on first use: a stack never has a password of another's (or one from the source).
        secrets = StackSecrets.load(settings.stack_dir) or StackSecrets.new()
        made = StackShape.load(settings.stack_dir)
        if (
            made is not None
            and wanted is not None
            and (made.brokers, made.replicated)
            != (
                wanted.brokers,
                wanted.replicated,
            )
        ):
            raise StackError(
                f"The stack in {settings.stack_dir} was made with {_shape_words(made)}, not "
                f"{_shape_words(wanted)}: `rekap stack reset` first (it deletes the data), or REKAP_HOME for "
                "a second stack."
            )
        shape = made or wanted or StackShape()
        kafka = _kafka_nodes(settings, shape, secrets) if settings.uses_local_kafka else []
        postgres = {}
        if settings.uses_local_postgres:
            postgres = {
                name: LocalPostgres(
                    state_dir=settings.stack_dir / name,
                    port=postgres_port(settings.postgres_port, name),
                    password=secrets.postgres["postgres"],
                )
                for name in shape.known_postgres
            }
        tabulator = LocalTabulator(settings.stack_dir / "tabulator", settings.shutdown_timeout_s)
        return cls(settings, shape, kafka, postgres, tabulator, secrets)

    @property
    def photos(self) -> LocalTabulator:
        """The photo consumer, started and stopped with the tabulator."""
        return LocalTabulator(self.tabulator.state_dir, self.tabulator.shutdown_timeout_s, "photos", PHOTOS_COMMAND)

    def start_services(self) -> list[str]:
        """Start the tabulator and the photo consumer, those not running; one line about each started."""
        started = []
        for service in (self.tabulator, self.photos):
            if service.process.pid() is None:
                pid = service.start()
                name = "Photo consumer" if service.name == "photos" else service.name.capitalize()
                started.append(f"{name} started, pid {pid}, log {service.process.logfile}")
        return started

    @property
    def primary(self) -> LocalPostgres | None:
        return self.postgres.get(self.shape.primary)

    def up(self, say: Say, *, tabulator: bool = False) -> list[ServiceStatus]:
        """Start what is not running, then make sure its roles, schema, users and topics are set up (and the
        standby made, if the shape has one and it is not yet); then the tabulator, if asked for or if the stack
        ran one before it was stopped."""
        StackSecrets.save(self.settings.stack_dir, self.secrets)
        self.shape.save(self.settings.stack_dir)
        self._start_kafka(say)
        primary = self.primary
        if primary is not None:
            self._start_postgres(primary, say)
        if self.kafka:
            created = asyncio.run(provision_kafka(self.settings, self.secrets))
            say(f"  Kafka: {len(created)} topic(s) created; users tabulator and terminals set with their ACLs")
        if tabulator or self.tabulator.wanted:
            for line in self.start_services():
                say(line)
        return self.status()

    def _start_kafka(self, say: Say) -> None:
        stopped = [node for node in self.kafka if node.process.pid() is None]
        if not stopped:
            return
        for node in stopped:
            which = "" if len(self.kafka) == 1 else f" of broker {node.node_id}"
            require_free_port(node.port, f"the Kafka broker{which}", "REKAP_KAFKA_PORT")
            require_free_port(node.controller_port, f"the KRaft controller{which}", "REKAP_KAFKA_CONTROLLER_PORT")
        if not self.kafka[0].jars_present():
            say(f"Fetching Apache Kafka {self.kafka[0].version} from Maven Central (once) ...")
        say("Starting the Kafka broker ..." if len(self.kafka) == 1 else f"Starting {len(stopped)} Kafka broker(s) ...")
        started = time.monotonic()
        start_nodes(self.kafka)
        answer = "broker answers" if len(self.kafka) == 1 else "brokers answer"
        say(f"  {answer} after {time.monotonic() - started:.1f} s")

    def _start_postgres(self, primary: LocalPostgres, say: Say) -> None:
        standby = self.postgres.get(self.shape.standby) if self.shape.standby else None
        for server in (primary, standby):
            if server is not None and server.is_initialised() and server.pid() is None:
                require_free_port(server.port, "PostgreSQL", "REKAP_POSTGRES_PORT")
                say(f"Starting PostgreSQL{'' if standby is None else f' ({_role(server, primary)})'} ...")
                server.start()
        if not primary.is_initialised():
            require_free_port(primary.port, "PostgreSQL", "REKAP_POSTGRES_PORT")
            say("Starting PostgreSQL ...")
            primary.start()
        applied = asyncio.run(provision_postgres(self.settings, primary, self.secrets))
        say(
            f"  database {LOCAL_DATABASE}: {len(applied)} migration(s) applied; logins of the tabulator, "
            "the operators and KPU's reader set"
        )
        if standby is not None and not standby.is_initialised():
            self._make_standby(primary, standby, say)

    def _make_standby(self, primary: LocalPostgres, standby: LocalPostgres, say: Say) -> None:
        """A streaming standby of `primary` in `standby`'s (empty) folder, synchronous: once it runs, a commit
        on the primary returns when the standby has it on disk too."""
        require_free_port(standby.port, "the PostgreSQL standby", "REKAP_POSTGRES_PORT (+ 1)")
        password = self.secrets.postgres.get(REPLICATION_LOGIN)
        if password is None:
            raise StackError("This stack was made by an older Rekap, without a replication login: `rekap stack reset`.")
        say(f"Making the standby {standby.state_dir.name} (pg_basebackup of {primary.state_dir.name}) ...")
        started = time.monotonic()
        asyncio.run(set_replication_login(primary.url, REPLICATION_LOGIN, password))
        standby.clone_from(primary, REPLICATION_LOGIN, password, STANDBY_NAME)
        standby.start()
        asyncio.run(set_synchronous_standby(primary.url, STANDBY_NAME))
        say(f"  standby streaming, synchronous, after {time.monotonic() - started:.1f} s")

    def promote(self, say: Say) -> StackShape:
        """Failover: the primary fenced (stopped, killed if it will not stop: it must never take a write
        again), the standby promoted, its commits no longer waiting for a standby. The shape records it."""
        standby_name = self.shape.standby
        if standby_name is None or standby_name not in self.postgres:
            raise StackError("The stack has no standby to promote (`rekap stack up --standby` makes one).")
        old, standby = self.postgres[self.shape.primary], self.postgres[standby_name]
        if standby.pid() is None:
            raise StackError(f"The standby {standby_name} is not running: start it (`rekap stack up`) first.")
        if old.pid() is not None:
            say(f"Stopping the primary {self.shape.primary} (fenced: it takes no write again) ...")
            old.fence()
        say(f"Promoting {standby_name} ...")
        standby.promote()
        asyncio.run(set_synchronous_standby(standby.url, None))
        promoted = self.shape.promoted()
        promoted.save(self.settings.stack_dir)
        say(
            f"  {standby_name} is the primary, alone: commits wait for no standby. The tabulators' URL names "
            f"both servers and finds it. Make a new standby with `rekap stack standby`."
        )
        return promoted

    def make_standby_again(self, say: Say) -> StackShape:
        """After a failover: the lost server's folder deleted and made again as a standby of the primary."""
        if not self.shape.replicated:
            raise StackError("The stack was made without a standby: `rekap stack reset`, then `up --standby`.")
        if self.shape.standby is not None:
            raise StackError(f"The stack has its standby ({self.shape.standby}) already.")
        primary = self.postgres[self.shape.primary]
        if primary.pid() is None:
            raise StackError(f"The primary {self.shape.primary} is not running: `rekap stack up` first.")
        lost = self.postgres[self.shape.spare]
        if lost.pid() is not None:
            lost.fence()
        shutil.rmtree(lost.state_dir, ignore_errors=True)
        shape = self.shape.with_standby()
        self._make_standby(primary, lost, say)
        shape.save(self.settings.stack_dir)
        return shape

    def _standbys_streaming(self) -> str:
        primary = self.primary
        if primary is None or primary.pid() is None:
            return "its primary is not running"
        try:
            return _replication_words(asyncio.run(replicas(primary.url)))
        except RekapError as error:
            return f"unknown: {error}"

    def down(self, say: Say) -> None:
        if self.photos.stop():
            say("Photo consumer stopped.")
        if self.tabulator.stop():
            say("Tabulator stopped.")
        stopped = stop_nodes(self.kafka)
        if stopped:
            say("Kafka broker stopped." if len(self.kafka) == 1 else f"Kafka brokers stopped ({', '.join(stopped)}).")
        for name in self.shape.postgres:  # the primary first: its standby receives the last of its WAL
            if self.postgres[name].stop():
                say("PostgreSQL stopped." if len(self.postgres) == 1 else f"PostgreSQL {name} stopped.")

    def reset(self, say: Say) -> None:
        """Stop, then delete the data (not the downloaded jars)."""
        self.down(say)
        for server in self.postgres.values():  # a server lost in a failover may still run
            server.stop()
        shutil.rmtree(self.settings.stack_dir, ignore_errors=True)
        say(f"Deleted {self.settings.stack_dir}.")

    def status(self) -> list[ServiceStatus]:
        statuses = []
        if not self.kafka:
            statuses.append(ServiceStatus("kafka", "external", self.settings.bootstrap_servers))
        for node in self.kafka:
            pid = node.process.pid()
            statuses.append(ServiceStatus(node.name, "running" if pid else "stopped", node.bootstrap_servers, pid))
        if not self.postgres:
            statuses.append(ServiceStatus("postgres", "external", self.settings.dsn_for_display))
        elif len(self.postgres) == 1:
            pid = self.postgres["postgres"].pid()
            state = "running" if pid else "stopped"
            statuses.append(ServiceStatus("postgres", state, self.settings.dsn_for_display, pid))
        else:
            streaming = self._standbys_streaming()
            for name, server in self.postgres.items():
                pid = server.pid()
                role = {self.shape.primary: "primary", self.shape.standby: "standby"}.get(name, "lost")
                if role == "standby":
                    role += f" ({streaming})"
                state = "running" if pid else ("stopped" if role != "lost" else "out")
                statuses.append(ServiceStatus(name, state, f"{role}, 127.0.0.1:{server.port}", pid))
        tabulator = self.tabulator.process.pid()
        if tabulator is not None:
            statuses.append(ServiceStatus("tabulator", "running", f"log {self.tabulator.process.logfile}", tabulator))
        elif self.tabulator.wanted:  # the stack ran one: stopped is a state to say (and to start again)
            statuses.append(ServiceStatus("tabulator", "stopped", "`rekap stack up` starts it again"))
        else:
            statuses.append(ServiceStatus("tabulator", "off", "none started (`rekap stack up --tabulator`)"))
        photos = self.photos.process.pid()
        if photos is not None:
            statuses.append(ServiceStatus("photos", "running", f"log {self.photos.process.logfile}", photos))
        elif self.tabulator.wanted:
            statuses.append(ServiceStatus("photos", "stopped", "`rekap stack up` starts it again"))
        return statuses


def _replication_words(replicas: list[Replica]) -> str:
    """How the primary sees its standby: "synchronous, streaming, 0 bytes behind"."""
    if not replicas:
        return "not streaming: the primary's commits wait for it"
    replica = replicas[0]
    kind = "synchronous" if replica.sync_state == "sync" else replica.sync_state
    return f"{kind}, {replica.state}, {replica.behind_bytes:,} bytes behind"


def _kafka_nodes(settings: Settings, shape: StackShape, secrets: StackSecrets) -> list[LocalKafka]:
    """The broker alone (in kafka/), or the three nodes of a cluster (kafka-1/ to kafka-3/)."""
    ports = broker_ports(settings.kafka_port, settings.kafka_controller_port, shape.brokers)
    voters = tuple((n, controller) for n, (_, controller) in enumerate(ports, 1)) if shape.brokers > 1 else ()
    return [
        LocalKafka(
            version=settings.kafka_version,
            cache_dir=settings.cache_dir,
            state_dir=settings.stack_dir / ("kafka" if not voters else f"kafka-{n}"),
            port=port,
            controller_port=controller,
            broker_password=secrets.kafka["broker"],
            admin_password=secrets.kafka["admin"],
            node_id=n,
            voters=voters,
        )
        for n, (port, controller) in enumerate(ports, 1)
    ]


def _role(server: LocalPostgres, primary: LocalPostgres) -> str:
    return "primary" if server is primary else "standby"


def _shape_words(shape: StackShape) -> str:
    brokers = "one broker" if shape.brokers == 1 else f"{shape.brokers} brokers"
    return f"{brokers} and PostgreSQL {'with a standby' if shape.replicated else 'alone'}"
