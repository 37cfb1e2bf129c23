"""The local stack's shape: one Kafka broker or a cluster of three, PostgreSQL alone or with a standby, and
which PostgreSQL server is the primary now. Chosen at the first `rekap stack up` (--brokers, --standby),
kept in the stack's folder (shape.json) and changed only by a failover (`rekap stack promote`) and by
making the standby again (`rekap stack standby`); `rekap stack reset` forgets it.

Where each server listens follows from the shape and the settings' ports: broker n (1, 2, 3) on
REKAP_KAFKA_PORT + 10 (n - 1), its controller on REKAP_KAFKA_CONTROLLER_PORT + 10 (n - 1); the PostgreSQL
servers `postgres` on REKAP_POSTGRES_PORT and `postgres-2` on the next port."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rekap.errors import StackError

FILENAME = "shape.json"
BROKER_COUNTS = (1, 3)  # alone, or a quorum that survives the loss of one
PORT_STEP = 10  # between the ports of two brokers (and of their controllers)
POSTGRES_SERVERS = ("postgres", "postgres-2")  # the second listens on the first's port + 1
STANDBY_NAME = "rekap_standby"  # the application name a standby streams as; the primary waits for it


@dataclass(frozen=True)
class StackShape:
    brokers: int = 1
    replicated: bool = False  # PostgreSQL made with a standby: its URLs name both servers
    postgres: tuple[str, ...] = ("postgres",)  # the servers in service, the primary first

    @property
    def primary(self) -> str:
        return self.postgres[0]

    @property
    def standby(self) -> str | None:
        return self.postgres[1] if len(self.postgres) > 1 else None

    @property
    def spare(self) -> str:
        """The server that is not the primary (the standby, or the one lost in a failover)."""
        return next(name for name in POSTGRES_SERVERS if name != self.primary)

    @property
    def known_postgres(self) -> tuple[str, ...]:
        """Every server a URL names: both when replicated (whichever is primary now answers writes)."""
        return POSTGRES_SERVERS if self.replicated else ("postgres",)

    def promoted(self) -> StackShape:
        """After a failover: the standby alone, the primary."""
        if self.standby is None:
            raise StackError("The stack has no standby to promote (`rekap stack up --standby` makes one).")
        return replace(self, postgres=(self.standby,))

    def with_standby(self) -> StackShape:
        return replace(self, replicated=True, postgres=(self.primary, self.spare))

    @classmethod
    def wanted(cls, brokers: int, standby: bool) -> StackShape:
        if brokers not in BROKER_COUNTS:
            raise StackError(f"--brokers {brokers}: the local stack runs 1 broker, or a cluster of 3")
        return cls(brokers, standby, POSTGRES_SERVERS if standby else ("postgres",))

    @staticmethod
    def path(stack_dir: Path) -> Path:
        return stack_dir / FILENAME

    @classmethod
    def load(cls, stack_dir: Path) -> StackShape | None:
        try:
            data = json.loads(cls.path(stack_dir).read_text())
            return cls(int(data["brokers"]), bool(data["replicated"]), tuple(data["postgres"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise StackError(f"{cls.path(stack_dir)} is damaged ({error}): `rekap stack reset` starts over.") from None

    def save(self, stack_dir: Path) -> None:
        stack_dir.mkdir(parents=True, exist_ok=True)
        staged = self.path(stack_dir).with_suffix(".new")
        staged.write_text(json.dumps(asdict(self), indent=2) + "\n")
        staged.replace(self.path(stack_dir))


def broker_ports(kafka_port: int, controller_port: int, brokers: int) -> list[tuple[int, int]]:
    """(client port, controller port) of each broker, 1 to `brokers`."""
    return [(kafka_port + PORT_STEP * n, controller_port + PORT_STEP * n) for n in range(brokers)]


def postgres_port(first_port: int, server: str) -> int:
    return first_port + POSTGRES_SERVERS.index(server)
