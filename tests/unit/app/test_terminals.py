"""The terminal registry's use cases on a registry answered in memory: each change answered with the
registry's head, a kecamatan named checked before anything is listed, nothing asked of an empty file."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from rekap.app import terminals
from rekap.app.terminals import Registration, TerminalRecord
from rekap.domain.head import TreeHead
from rekap.domain.regions import Level
from rekap.domain.signing import SigningKey
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.errors import RekapError

HEAD = TreeHead(3, b"\x01" * 32)
KPPS = Terminal("kpps-1", SigningKey.generate().public_key, Scope(ScopeKind.TPS, "1671011001003"))


@dataclass
class Registry:
    asked: list[str] = field(default_factory=list)

    async def region_exists(self, level: Level, code: str) -> bool:
        return (level, code) == (Level.KECAMATAN, "167101")

    async def register_terminals(self, registered: list[Terminal]) -> int:
        self.asked.append(f"register {len(registered)}")
        return len(registered)

    async def refused_registrations(self, registrations: list[Registration]) -> list[tuple[int, str]]:
        self.asked.append(f"refused {len(registrations)}")
        return [(0, "taken")]

    async def revoke_terminal(self, terminal_id: str) -> None:
        self.asked.append(f"revoke {terminal_id}")

    async def list_terminals(self) -> list[TerminalRecord]:
        self.asked.append("list")
        return []

    async def registry_head(self) -> TreeHead:
        return HEAD


async def test_each_change_is_answered_with_the_registry_s_head() -> None:
    registry = Registry()
    done = await terminals.register(registry, [KPPS])
    assert (done.new, done.head) == (1, HEAD)
    assert await terminals.revoke(registry, "kpps-1") == HEAD
    assert registry.asked == ["register 1", "revoke kpps-1"]


async def test_an_empty_file_asks_nothing_and_an_unknown_kecamatan_lists_nothing() -> None:
    registry = Registry()
    assert await terminals.refused(registry, []) == []
    assert await terminals.refused(registry, [("kpps-1", None, None)]) == [(0, "taken")]
    with pytest.raises(RekapError, match="kecamatan 167199 is not in the master data"):
        await terminals.terminals(registry, "167199")
    assert await terminals.terminals(registry, "167101") == []
    assert registry.asked == ["refused 1", "list"]
