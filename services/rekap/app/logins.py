"""Use cases of the database's schema and logins (`rekap db migrate / status / login ...`), as the owner:
the migrations, and each login in exactly one of Rekap's groups, with that group's policy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

OWNER = "rekap_owner"  # the role that owns the schema and makes the logins


class Group(StrEnum):
    """What a login may do; each is a NOLOGIN role made by migration 0007 (kpu_reader by 0004, rekap_monitor
    by 0010: PostgreSQL's statistics for the Prometheus exporter, through pg_monitor)."""

    TABULATOR = "tabulator"
    OPERATOR = "operator"
    READER = "reader"
    MONITOR = "monitor"

    @property
    def role(self) -> str:
        return GROUP_ROLES[self.value]


# Each group's role in PostgreSQL.
GROUP_ROLES = {
    "tabulator": "rekap_tabulator",
    "operator": "rekap_operator",
    "reader": "kpu_reader",
    "monitor": "rekap_monitor",
}


@dataclass(frozen=True)
class LoginPolicy:
    settings: dict[str, str]
    connection_limit: int  # -1: no limit


POLICIES = {
    Group.TABULATOR: LoginPolicy({}, -1),  # its sessions set their own timeouts (Settings.db_*)
    Group.OPERATOR: LoginPolicy({"idle_in_transaction_session_timeout": "600s"}, 10),
    # Read-only by default, and no query or forgotten transaction holds the tabulators' tables for long.
    Group.READER: LoginPolicy(
        {
            "default_transaction_read_only": "on",
            "statement_timeout": "60s",
            "idle_in_transaction_session_timeout": "60s",
        },
        5,
    ),
    # The exporter: short read-only queries of the statistics views, a few sessions at most.
    Group.MONITOR: LoginPolicy(
        {
            "default_transaction_read_only": "on",
            "statement_timeout": "15s",
            "idle_in_transaction_session_timeout": "60s",
        },
        3,
    ),
}


@dataclass(frozen=True)
class Login:
    login: str
    role: str
    connection_limit: int  # -1: none
    settings: list[str]  # name=value


@dataclass(frozen=True)
class LoginSet:
    created: bool  # else brought to exactly its group
    group: Group
    connection_limit: int
    settings: dict[str, str]


@dataclass(frozen=True)
class MigrationState:
    filename: str
    applied: bool


class Schema(Protocol):
    async def migrate(self) -> list[str]: ...  # the filenames applied now

    async def migration_states(self) -> list[MigrationState]: ...


class Logins(Protocol):
    async def set_login(self, name: str, group: Group, password: str, connection_limit: int | None) -> bool: ...

    async def drop_login(self, name: str) -> bool: ...

    async def list_logins(self) -> list[Login]: ...


async def set_login(
    logins: Logins, name: str, group: Group, password: str, connection_limit: int | None = None
) -> LoginSet:
    """A login in exactly one group, with the group's policy (its connection limit unless one is given)."""
    created = await logins.set_login(name, group, password, connection_limit)
    policy = POLICIES[group]
    limit = policy.connection_limit if connection_limit is None else connection_limit
    return LoginSet(created, group, limit, dict(policy.settings))
