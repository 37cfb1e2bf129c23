"""The local stack as one thing: `up`, `down`, `status`, `reset` of the broker and the database."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from rekap.config import Settings
from rekap.devstack.kafka import LocalKafka
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.process import require_free_port
from rekap.devstack.provision import provision_kafka, provision_postgres
from rekap.devstack.secrets import LOCAL_DATABASE, StackSecrets
from rekap.devstack.tabulator import LocalTabulator

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
    """The servers Rekap runs itself; a server configured elsewhere (external) is left alone."""

    settings: Settings
    kafka: LocalKafka | None
    postgres: LocalPostgres | None
    tabulator: LocalTabulator
    secrets: StackSecrets

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStack:
        # Made on first use: a stack never has a password of another's (or one from the source).
        secrets = StackSecrets.load(settings.stack_dir) or StackSecrets.new()
        kafka = None
        if settings.uses_local_kafka:
            kafka = LocalKafka(
                version=settings.kafka_version,
                cache_dir=settings.cache_dir,
                state_dir=settings.stack_dir / "kafka",
                port=settings.kafka_port,
                controller_port=settings.kafka_controller_port,
                broker_password=secrets.kafka["broker"],
                admin_password=secrets.kafka["admin"],
            )
        postgres = None
        if settings.uses_local_postgres:
            postgres = LocalPostgres(
                state_dir=settings.stack_dir / "postgres",
                port=settings.postgres_port,
                password=secrets.postgres["postgres"],
            )
        tabulator = LocalTabulator(settings.stack_dir / "tabulator", settings.shutdown_timeout_s)
        return cls(settings=settings, kafka=kafka, postgres=postgres, tabulator=tabulator, secrets=secrets)

    def up(self, say: Say, *, tabulator: bool = False) -> list[ServiceStatus]:
        """Start what is not running, then make sure its roles, schema, users and topics are set up; then
        the tabulator, if asked for or if the stack ran one before it was stopped."""
        StackSecrets.save(self.settings.stack_dir, self.secrets)
        if self.kafka is not None and self.kafka.process.pid() is None:
            require_free_port(self.kafka.port, "the Kafka broker", "REKAP_KAFKA_PORT")
            require_free_port(self.kafka.controller_port, "the KRaft controller", "REKAP_KAFKA_CONTROLLER_PORT")
            if not self.kafka.jars_present():
                say(f"Fetching Apache Kafka {self.kafka.version} from Maven Central (once) ...")
            say("Starting the Kafka broker ...")
            started = time.monotonic()
            self.kafka.start()
            say(f"  broker answers after {time.monotonic() - started:.1f} s")
        if self.postgres is not None and self.postgres.pid() is None:
            require_free_port(self.postgres.port, "PostgreSQL", "REKAP_POSTGRES_PORT")
            say("Starting PostgreSQL ...")
            self.postgres.start()
        if self.postgres is not None:
            applied = asyncio.run(provision_postgres(self.settings, self.postgres, self.secrets))
            say(
                f"  database {LOCAL_DATABASE}: {len(applied)} migration(s) applied; logins of the tabulator, "
                "the operators and KPU's reader set"
            )
        if self.kafka is not None:
            created = asyncio.run(provision_kafka(self.settings, self.secrets))
            say(f"  Kafka: {len(created)} topic(s) created; users tabulator and terminals set with their ACLs")
        if (tabulator or self.tabulator.wanted) and self.tabulator.process.pid() is None:
            pid = self.tabulator.start()
            say(f"Tabulator started, pid {pid}, log {self.tabulator.process.logfile}")
        return self.status()

    def down(self, say: Say) -> None:
        if self.tabulator.stop():
            say("Tabulator stopped.")
        if self.kafka is not None and self.kafka.stop():
            say("Kafka broker stopped.")
        if self.postgres is not None and self.postgres.stop():
            say("PostgreSQL stopped.")

    def reset(self, say: Say) -> None:
        """Stop, then delete the data (not the downloaded jars)."""
        self.down(say)
        shutil.rmtree(self.settings.stack_dir, ignore_errors=True)
        say(f"Deleted {self.settings.stack_dir}.")

    def status(self) -> list[ServiceStatus]:
        statuses = []
        if self.kafka is None:
            statuses.append(ServiceStatus("kafka", "external", self.settings.bootstrap_servers))
        else:
            pid = self.kafka.process.pid()
            state = "running" if pid is not None else "stopped"
            statuses.append(ServiceStatus("kafka", state, self.kafka.bootstrap_servers, pid))
        if self.postgres is None:
            statuses.append(ServiceStatus("postgres", "external", self.settings.dsn_for_display))
        else:
            pid = self.postgres.pid()
            state = "running" if pid is not None else "stopped"
            statuses.append(ServiceStatus("postgres", state, self.settings.dsn_for_display, pid))
        tabulator = self.tabulator.process.pid()
        if tabulator is not None:
            statuses.append(ServiceStatus("tabulator", "running", f"log {self.tabulator.process.logfile}", tabulator))
        elif self.tabulator.wanted:  # the stack ran one: stopped is a state to say (and to start again)
            statuses.append(ServiceStatus("tabulator", "stopped", "`rekap stack up` starts it again"))
        else:
            statuses.append(ServiceStatus("tabulator", "off", "none started (`rekap stack up --tabulator`)"))
        return statuses
