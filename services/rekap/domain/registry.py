"""The registry as a verifier reads it: its leaves in order (master data versions, terminal registrations
and revocations, accepted gaps, election keys), and what it held at any position: a record judged with
`registry_size` S was judged against the first S leaves. docs/audit-bundle.md defines each leaf."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rekap.domain.head import endorses
from rekap.domain.merkle import Frontier, leaf_hash
from rekap.domain.terminals import TERMINAL_ID, Scope, Terminal

LEAF_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "masterdata": {"dataset": str, "sha256": str},
    "register": {"terminal_id": str, "public_key": str, "scope": str},
    "revoke": {"terminal_id": str},
    "gap": {
        "topic": str,
        "partition": int,
        "first_missing": int,
        "next_offset": int,
        "accepted_by": str,
        "reason": str,
    },
    "election_key": {"name": str, "public_key": str, "endorsement": (str, type(None))},
}


class LeafError(ValueError):
    """A registry leaf that is not one, or that contradicts the leaves before it."""


@dataclass(frozen=True, slots=True)
class Registration:
    terminal: Terminal  # as registered (active)
    position: int
    revoked: int | None = None  # the position of its revocation


@dataclass(frozen=True, slots=True)
class AcceptedGap:
    topic: str
    partition: int
    first_missing: int
    next_offset: int
    position: int


@dataclass(frozen=True, slots=True)
class ElectionKey:
    name: str
    public_key: bytes
    position: int


@dataclass
class Registry:
    """Leaves added in order, each checked against those before it."""

    frontier: Frontier = field(default_factory=Frontier)
    terminals: dict[str, Registration] = field(default_factory=dict)
    gaps: dict[tuple[str, int], list[AcceptedGap]] = field(default_factory=dict)
    masterdata: list[tuple[int, bytes]] = field(default_factory=list)  # (position, digest)
    keys: list[ElectionKey] = field(default_factory=list)
    roots: dict[int, bytes] = field(default_factory=dict)  # at the sizes asked for by `keep_roots`
    _wanted: set[int] = field(default_factory=set)
    _last_at: str = ""

    @property
    def size(self) -> int:
        return self.frontier.size

    def keep_roots(self, sizes: set[int]) -> None:
        """Keep the root at each of these sizes as the leaves go by (to check anchors against)."""
        self._wanted |= sizes
        if 0 in sizes:
            self.roots[0] = Frontier().root()

    def add(self, leaf: bytes) -> None:
        """The next leaf; raises LeafError if it is not one or contradicts the registry so far (the leaf
        still counts in the tree: its hash is what the head signs)."""
        position = self.size
        self.frontier.append(leaf_hash(leaf))
        if self.size in self._wanted:
            self.roots[self.size] = self.frontier.root()
        value = _leaf_object(leaf)
        at = value["at"]
        if at < self._last_at:
            raise LeafError(f"logged at {at}, before the leaf before it ({self._last_at}): not in the order of events")
        self._last_at = at
        getattr(self, f"_add_{value['kind']}")(value, position)

    def _add_masterdata(self, value: dict[str, Any], position: int) -> None:
        if not HEX_DIGEST.fullmatch(value["sha256"]):
            raise LeafError("sha256 is not 64 lower-case hex digits")
        self.masterdata.append((position, bytes.fromhex(value["sha256"])))

    def _add_register(self, value: dict[str, Any], position: int) -> None:
        terminal_id = value["terminal_id"]
        if not TERMINAL_ID.fullmatch(terminal_id):
            raise LeafError(f"terminal id {terminal_id[:70]!r} is not one")
        if terminal_id in self.terminals:
            raise LeafError(
                f"terminal {terminal_id} is registered a second time (first at leaf "
                f"{self.terminals[terminal_id].position})"
            )
        try:
            scope = Scope.parse(value["scope"])
        except ValueError as error:
            raise LeafError(str(error)) from None
        terminal = Terminal(terminal_id, _key(value["public_key"], "public_key", 32), scope)
        self.terminals[terminal_id] = Registration(terminal, position)

    def _add_revoke(self, value: dict[str, Any], position: int) -> None:
        registration = self.terminals.get(value["terminal_id"])
        if registration is None or registration.revoked is not None:
            raise LeafError(f"revokes {value['terminal_id'][:70]!r}, which is not a registered, active terminal")
        self.terminals[registration.terminal.terminal_id] = Registration(
            registration.terminal, registration.position, position
        )

    def _add_gap(self, value: dict[str, Any], position: int) -> None:
        if not 0 <= value["first_missing"] < value["next_offset"] or value["partition"] < 0:
            raise LeafError("a gap is offsets first_missing < next_offset of a partition >= 0")
        gap = AcceptedGap(value["topic"], value["partition"], value["first_missing"], value["next_offset"], position)
        self.gaps.setdefault((gap.topic, gap.partition), []).append(gap)

    def _add_election_key(self, value: dict[str, Any], position: int) -> None:
        public_key = _key(value["public_key"], "public_key", 32)
        endorsement = value["endorsement"]
        if not self.keys:
            if endorsement is not None:
                raise LeafError("the first election key has no endorsement")
        elif endorsement is None or not endorses(
            self.keys[-1].public_key, public_key, _key(endorsement, "endorsement", 64)
        ):
            raise LeafError("an election key that the key before it did not endorse")
        self.keys.append(ElectionKey(value["name"], public_key, position))

    def masterdata_at(self, size: int) -> bytes | None:
        """The digest of the last master data version among the first `size` leaves."""
        return next((digest for position, digest in reversed(self.masterdata) if position < size), None)

    def key_at(self, size: int) -> ElectionKey | None:
        return next((key for key in reversed(self.keys) if key.position < size), None)

    def terminals_at(self, size: int) -> TerminalsAt:
        return TerminalsAt(self.terminals, size)


class TerminalsAt(Mapping[str, Terminal]):
    """The terminals as the first `size` leaves registered and revoked them: what a decoder judged with."""

    def __init__(self, registrations: dict[str, Registration], size: int) -> None:
        self._registrations = registrations
        self._size = size

    def __getitem__(self, terminal_id: str) -> Terminal:
        registration = self._registrations[terminal_id]
        if registration.position >= self._size:
            raise KeyError(terminal_id)
        if registration.revoked is not None and registration.revoked < self._size:
            terminal = registration.terminal
            return Terminal(terminal.terminal_id, terminal.public_key, terminal.scope, active=False)
        return registration.terminal

    def __iter__(self) -> Iterator[str]:
        return (t for t, r in self._registrations.items() if r.position < self._size)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _leaf_object(leaf: bytes) -> dict[str, Any]:
    try:
        value = json.loads(leaf.decode("utf-8"), object_pairs_hook=_no_repeated_key)
    except (UnicodeDecodeError, ValueError) as error:
        raise LeafError(f"not a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise LeafError("not a JSON object")
    kind = value.get("kind")
    if kind not in FIELDS:
        raise LeafError(f"kind {str(kind)[:40]!r} is none of {', '.join(FIELDS)}")
    fields = FIELDS[kind]
    if set(value) != {"kind", "at", *fields}:
        raise LeafError(f"a {kind} leaf holds exactly kind, at, {', '.join(fields)}")
    if not isinstance(value["at"], str) or not LEAF_TIME.fullmatch(value["at"]):
        raise LeafError("at is not a UTC time as YYYY-MM-DDTHH:MM:SS.ffffffZ")
    for name, kind_ in fields.items():
        if not isinstance(value[name], kind_) or isinstance(value[name], bool):
            raise LeafError(f"{name} is not a {'number' if kind_ is int else 'text'}")
    return value


def leaf_time(leaf: bytes) -> datetime:
    """When a well-formed leaf was logged."""
    return datetime.strptime(json.loads(leaf)["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _no_repeated_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a key is repeated")
    return dict(pairs)


def _key(text: str, name: str, size: int) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if len(data) != size:
        raise LeafError(f"{name} is not base64 of {size} bytes")
    return data
