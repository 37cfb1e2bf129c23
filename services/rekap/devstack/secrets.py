"""The local stack's secrets: a password per database login and Kafka principal, and the secret the
simulated terminals' keys derive from. Made at random on the first `rekap stack up`, kept in the
stack's folder (readable by its owner only), deleted by `rekap stack reset`. And the stack's servers as
the settings use them where they name none (`stack_settings`)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from rekap.access import KafkaAccess
from rekap.config import DbUser, KafkaPrincipal, Settings
from rekap.devstack.shape import StackShape, broker_ports, postgres_port
from rekap.errors import StackError

FILENAME = "secrets.json"
LOCAL_DATABASE = "rekap"
POSTGRES_SUPERUSER = "postgres"
# The local stack's database logins, by what they are for (the owner is the role of that name).
LOCAL_LOGINS = {"owner": "rekap_owner", "tabulator": "tabulator", "operator": "operator", "reader": "kpu"}
REPLICATION_LOGIN = "replicator"  # a standby streams the primary's WAL as it (REPLICATION, nothing else)
# `broker` is the broker's own principal; the others are Settings.kafka's.
KAFKA_PRINCIPALS = ("broker", "admin", "tabulator", "terminals")


@dataclass(frozen=True)
class StackSecrets:
    postgres: dict[str, str]  # login -> password, the superuser's too
    kafka: dict[str, str]  # principal -> password
    simulation: bytes  # the simulated terminals' keys derive from it

    @staticmethod
    def path(stack_dir: Path) -> Path:
        return stack_dir / FILENAME

    @classmethod
    def new(cls) -> StackSecrets:
        return cls(
            postgres={
                login: secrets.token_urlsafe(18)
                for login in [POSTGRES_SUPERUSER, *LOCAL_LOGINS.values(), REPLICATION_LOGIN]
            },
            kafka={principal: secrets.token_urlsafe(18) for principal in KAFKA_PRINCIPALS},
            simulation=secrets.token_bytes(32),
        )

    @classmethod
    def load(cls, stack_dir: Path) -> StackSecrets | None:
        try:
            data = json.loads(cls.path(stack_dir).read_text())
            return cls(data["postgres"], data["kafka"], bytes.fromhex(data["simulation"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise StackError(f"{cls.path(stack_dir)} is damaged ({error}): `rekap stack reset` starts over.") from None

    @classmethod
    def load_or_create(cls, stack_dir: Path) -> StackSecrets:
        found = cls.load(stack_dir)
        if found is None:
            found = cls.new()
            cls.save(stack_dir, found)
        return found

    @classmethod
    def save(cls, stack_dir: Path, made: StackSecrets) -> None:
        """Write them, unless the stack has its secrets already."""
        path = cls.path(stack_dir)
        if path.exists():
            return
        stack_dir.mkdir(parents=True, exist_ok=True)
        data = {"postgres": made.postgres, "kafka": made.kafka, "simulation": made.simulation.hex()}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(data, file, indent=2)


def local_postgres_url(
    port: int | list[int],
    user: str = POSTGRES_SUPERUSER,
    password: str | None = None,
    database: str = LOCAL_DATABASE,
    *,
    target: str | None = None,
) -> str:
    """A loopback URL; with several ports (a primary and its standby), `target` says which one a session takes
    (libpq's and asyncpg's target_session_attrs: read-write for the primary, prefer-standby for readers)."""
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    hosts = ",".join(f"127.0.0.1:{p}" for p in ([port] if isinstance(port, int) else port))
    query = f"?target_session_attrs={target}" if target else ""
    return f"postgresql://{credentials}@{hosts}/{database}{query}"


def stack_postgres_url(
    stack_dir: Path,
    first_port: int,
    login: str,
    password: str | None,
    database: str = LOCAL_DATABASE,
    *,
    reader: bool = False,
) -> str:
    """A login's URL on the local stack's PostgreSQL: alone, the server's; with a standby, both servers',
    the session taking the primary (a reader preferring the standby)."""
    shape = StackShape.load(stack_dir) or StackShape()
    # The primary first: a session is made there at once (a standby is tried, and left, only when it is down).
    servers = [*shape.postgres, *(s for s in shape.known_postgres if s not in shape.postgres)]
    if len(servers) == 1:
        return local_postgres_url(first_port, login, password, database)
    ports = [postgres_port(first_port, server) for server in servers]
    return local_postgres_url(ports, login, password, database, target="prefer-standby" if reader else "read-write")


@dataclass(frozen=True)
class StackServers:
    """The local stack's brokers and PostgreSQL servers, and its logins: the shape and the passwords read each
    time (`stack reset` makes new ones; before the first `stack up` there are none)."""

    stack_dir: Path
    postgres_port: int
    kafka_port: int
    kafka_controller_port: int

    def shape(self) -> StackShape:
        return StackShape.load(self.stack_dir) or StackShape()

    @property
    def bootstrap_servers(self) -> str:
        ports = broker_ports(self.kafka_port, self.kafka_controller_port, self.shape().brokers)
        return ",".join(f"127.0.0.1:{port}" for port, _ in ports)

    def postgres_url(self, user: DbUser) -> str:
        """Alone: the server's. With a standby: both servers', the session taking the primary (KPU's reader
        prefers the standby, keeping the primary for the tabulators); after a failover the same URL finds the
        promoted one."""
        login = LOCAL_LOGINS[user]
        secrets = StackSecrets.load(self.stack_dir)
        password = secrets.postgres.get(login) if secrets else None
        return stack_postgres_url(self.stack_dir, self.postgres_port, login, password, reader=user == "reader")

    def kafka(self, principal: KafkaPrincipal) -> KafkaAccess:
        secrets = StackSecrets.load(self.stack_dir)
        return KafkaAccess(self.bootstrap_servers, principal, secrets.kafka.get(principal) if secrets else None)


def stack_settings(settings: Settings | None = None) -> Settings:
    """The settings (read from the environment when not given), using the local stack where they name no
    server."""
    settings = settings if settings is not None else Settings()
    return settings.with_local_servers(
        StackServers(settings.stack_dir, settings.postgres_port, settings.kafka_port, settings.kafka_controller_port)
    )
