"""Use cases of the terminal registry (`rekap terminal register / list / revoke`): register terminals (one, or
a file's, all or none), say what the database would refuse of a file, list them, revoke one; each change
answered with the registry's new head."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rekap.app.regions import Regions, require_region
from rekap.domain.head import TreeHead
from rekap.domain.regions import Level
from rekap.domain.terminals import Scope, Terminal
from rekap.errors import RekapError


class TerminalError(RekapError):
    """A registration or revocation that cannot be done as asked. `problems`: each terminal id refused in a
    registration, with why (every one, for a caller that reports them line by line)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True, slots=True)
class TerminalRecord:
    terminal: Terminal
    registered_at: datetime
    revoked_at: datetime | None
    time_zone: str | None  # its region's (Asia/Jakarta), and the zone's name (WIB): None for a region not known
    zone: str | None


# A registration to check, by its parts: None for a part its caller could not read (not checked then).
Registration = tuple[str | None, bytes | None, Scope | None]


@dataclass(frozen=True)
class Registered:
    new: int  # how many were not registered before
    head: TreeHead  # the registry after it


class TerminalRegistry(Regions, Protocol):
    async def register_terminals(self, terminals: list[Terminal]) -> int: ...

    async def refused_registrations(self, registrations: list[Registration]) -> list[tuple[int, str]]: ...

    async def revoke_terminal(self, terminal_id: str) -> None: ...

    async def list_terminals(self) -> list[TerminalRecord]: ...

    async def registry_head(self) -> TreeHead: ...


async def register(registry: TerminalRegistry, terminals: list[Terminal]) -> Registered:
    """Every terminal in one transaction, or none (TerminalError with each one refused, and why)."""
    return Registered(await registry.register_terminals(terminals), await registry.registry_head())


async def refused(registry: TerminalRegistry, registrations: list[Registration]) -> list[tuple[int, str]]:
    """What the database would refuse of these registrations (by index), nothing registered."""
    return await registry.refused_registrations(registrations) if registrations else []


async def revoke(registry: TerminalRegistry, terminal_id: str) -> TreeHead:
    await registry.revoke_terminal(terminal_id)
    return await registry.registry_head()


async def terminals(registry: TerminalRegistry, kecamatan: str | None = None) -> list[TerminalRecord]:
    """Every terminal (a kecamatan named must be in the master data; the caller filters by it)."""
    if kecamatan is not None:
        await require_region(registry, Level.KECAMATAN, kecamatan)
    return await registry.list_terminals()
