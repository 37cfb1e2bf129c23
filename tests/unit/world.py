"""A small world for the pure tests: two TPS in two kecamatan, their contests, their terminals."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from rekap.domain.contests import Contest, ContestKind
from rekap.domain.decode import Decoder, RawRecord
from rekap.domain.masterdata import MasterData
from rekap.domain.regions import Tps
from rekap.domain.signing import SigningKey
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.simulation.forms import Form, consistent_form, kpps_terminal_id, signed_record

TPS_A = Tps("1671011001003", 300, 273)  # Palembang, as the shipped master data has it
TPS_B = Tps("1601072001001", 235, 259)  # Ogan Komering Ulu
GOVERNOR = Contest("pkwkp-16", ContestKind.PKWKP, "16", "Gubernur", frozenset({"1", "2", "3"}))
MAYOR = Contest("pkwkk-1671", ContestKind.PKWKK, "1671", "Wali Kota Palembang", frozenset({"1", "2"}))
REGENT = Contest("pkwkk-1601", ContestKind.PKWKK, "1601", "Bupati OKU", frozenset({"1", "kolom_kosong"}))
OTHER_PROVINCE = Contest("pkwkp-17", ContestKind.PKWKP, "17", "Gubernur Bengkulu", frozenset({"1", "2"}))
SECRET = b"test-terminal-keys"


@dataclass(frozen=True)
class World:
    master: MasterData
    terminals: dict[str, Terminal]

    def key(self, terminal_id: str) -> SigningKey:
        return SigningKey.derived(SECRET, terminal_id)

    def decoder(self, *, verify_signatures: bool = True) -> Decoder:
        return Decoder(self.master, self.terminals, verify_signatures=verify_signatures)

    def form(self, tps: Tps = TPS_A, contest: Contest = GOVERNOR, seed: int = 1) -> Form:
        return consistent_form(tps, contest, random.Random(seed))

    def with_tps(self, tps: Tps) -> World:
        """The same world, the TPS of that id registered with these voters (a KPU data fix)."""
        return World(MasterData({**self.master.tps, tps.tps_id: tps}, self.master.contests), self.terminals)

    def record(self, form: Form, *, signer: str | None = None) -> RawRecord:
        return signed_record(form, self.key(signer or str(form["terminal_id"])))


def terminal(terminal_id: str, scope: Scope, *, active: bool = True) -> Terminal:
    return Terminal(terminal_id, SigningKey.derived(SECRET, terminal_id).public_key, scope, active)


def make_world() -> World:
    terminals = [
        terminal(kpps_terminal_id(TPS_A.tps_id), Scope(ScopeKind.TPS, TPS_A.tps_id)),
        terminal(kpps_terminal_id(TPS_B.tps_id), Scope(ScopeKind.TPS, TPS_B.tps_id)),
        terminal("ppk-167101", Scope(ScopeKind.KECAMATAN, "167101")),
        terminal("kpps-revoked", Scope(ScopeKind.TPS, TPS_A.tps_id), active=False),
    ]
    master = MasterData(
        tps={t.tps_id: t for t in (TPS_A, TPS_B)},
        contests={c.contest_id: c for c in (GOVERNOR, MAYOR, REGENT, OTHER_PROVINCE)},
    )
    return World(master, {t.terminal_id: t for t in terminals})


def changed(form: Form, path: str, value: object) -> Form:
    """A deep copy of the form with the field at a dotted path set (or removed, for value=...)."""
    result = copy.deepcopy(form)
    *parents, last = path.split(".")
    target = result
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result
