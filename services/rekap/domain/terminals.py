"""Data-entry terminals: who may submit forms for which TPS, with which public key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rekap.domain.regions import Level, ancestor, is_code

TERMINAL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")


class ScopeKind(StrEnum):
    TPS = "tps"  # a KPPS terminal at one polling station
    KECAMATAN = "kecamatan"  # a PPK operator, who may correct any TPS of the kecamatan


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    code: str

    @classmethod
    def parse(cls, text: str) -> Scope:
        """`tps:1671011001003` or `kecamatan:167101`."""
        kind, _, code = text.partition(":")
        try:
            scope = cls(ScopeKind(kind), code)
        except ValueError:
            raise ValueError(f"a scope is tps:<13 digits> or kecamatan:<6 digits>, not {text!r}") from None
        if not is_code(code, Level(scope.kind.value)):
            raise ValueError(f"a scope is tps:<13 digits> or kecamatan:<6 digits>, not {text!r}")
        return scope

    def covers(self, tps_id: str) -> bool:
        if self.kind is ScopeKind.TPS:
            return tps_id == self.code
        return ancestor(tps_id, Level.KECAMATAN) == self.code

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.code}"


@dataclass(frozen=True, slots=True)
class Terminal:
    terminal_id: str
    public_key: bytes
    scope: Scope
    active: bool = True
