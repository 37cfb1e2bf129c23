"""The heads a site publishes, one after another, each with the proofs that it extends the one before
(docs/audit-bundle.md, "The site's heads"): `audit/head.txt` (the current one), `audit/heads/N.txt` and
`N.proof.json`, `audit/heads/latest.json`, the election key's public half and the registry's leaves. The
history of heads lives outside the database, where witnesses fetch it every minute."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.registry import (
    ledger_at,
    ledger_leaf_hashes,
    registry_leaf_hashes,
    registry_leaves,
)
from rekap.audit.keys import public_key_of, signed_head_now
from rekap.domain.head import ElectionHead, HeadError, SignedHead, read_head
from rekap.domain.merkle import Frontier, GrownTree
from rekap.domain.signing import public_key_pem
from rekap.errors import RekapError

PROOF_FORMAT = "rekap-consistency/1"


class HeadsError(RekapError):
    """The heads a site published before cannot be read: a new one would not extend them."""


@dataclass(frozen=True)
class Published:
    number: int  # of the head now latest
    new: bool  # whether this build published it (else nothing had changed since the last)
    head: ElectionHead


def same_moment(a: ElectionHead, b: ElectionHead) -> bool:
    """Whether two heads name the same registry, ledgers, master data and totals (whatever their time)."""
    return (a.registry, a.ledgers, a.masterdata, a.totals) == (b.registry, b.ledgers, b.masterdata, b.totals)


async def publish_head(conn: Connection, site: Path, key_file: Path) -> Published:
    """Sign the head of the caller's snapshot and publish it in `site`/audit, numbered after the last one
    published there, with the consistency proofs from it; nothing new when nothing changed."""
    audit = site / "audit"
    heads = audit / "heads"
    heads.mkdir(parents=True, exist_ok=True)
    text = await signed_head_now(conn, key_file)
    signed = read_head(text)
    last = _last_published(heads)
    if last is not None and same_moment(last[1].head, signed.head):
        return Published(last[0], False, last[1].head)
    number = 1 if last is None else last[0] + 1
    if last is not None:
        proof = await consistency(conn, last[1], signed)
        _write(heads / f"{number}.proof.json", json.dumps(proof, indent=1).encode() + b"\n")
    _write(heads / f"{number}.txt", text)
    if last is None or last[1].head.registry != signed.head.registry:
        leaves = [leaf async for leaf in registry_leaves(conn, 0, signed.head.registry.size)]
        _write(audit / "registry.jsonl", b"".join(leaf + b"\n" for leaf in leaves))
    _write(audit / "election-key.pem", public_key_pem(public_key_of(key_file)).encode())
    _write(audit / "head.txt", text)
    _write(heads / "latest.json", json.dumps({"number": number, "sha256": signed.sha256}).encode() + b"\n")
    return Published(number, True, signed.head)


async def consistency(conn: Connection, old: SignedHead, new: SignedHead) -> dict[str, Any]:
    """RFC 9162 consistency proofs from `old` to `new`, for the registry and each ledger, from the database
    (as of the caller's snapshot, which `new` describes)."""
    before, after = old.head, new.head
    registry = await _registry_proof(conn, before.registry.size, after.registry.size)
    ledgers = []
    for ledger in after.ledgers:
        kept = before.ledger(ledger.topic, ledger.partition)
        first, start = (kept.size, kept.next_offset) if kept is not None else (0, 0)
        tree = await ledger_at(conn, ledger.topic, ledger.partition, start) if first else Frontier()
        leaves = await ledger_leaf_hashes(conn, ledger.topic, ledger.partition, start, ledger.next_offset)
        proof = GrownTree(tree, leaves).proof() if tree.size == first else []
        ledgers.append(
            {
                "topic": ledger.topic,
                "partition": ledger.partition,
                "from": first,
                "to": ledger.size,
                "proof": [p.hex() for p in proof],
            }
        )
    return {
        "format": PROOF_FORMAT,
        "from": old.sha256,
        "to": new.sha256,
        "registry": {"from": before.registry.size, "to": after.registry.size, "proof": [p.hex() for p in registry]},
        "ledgers": ledgers,
    }


async def _registry_proof(conn: Connection, first: int, second: int) -> list[bytes]:
    if first in (0, second) or first > second:
        return []
    hashes = await registry_leaf_hashes(conn, 0, second)
    tree = Frontier()
    tree.extend(hashes[:first])
    return GrownTree(tree, hashes[first:]).proof()


def _last_published(heads: Path) -> tuple[int, SignedHead] | None:
    """The head published last, or None before the first; a history that cannot be read is refused (a
    new first head over it would rewrite what witnesses kept)."""
    latest = heads / "latest.json"
    if not latest.exists():
        if any(heads.glob("*.txt")):
            raise HeadsError(f"{heads} holds heads but no latest.json: restore it before publishing more")
        return None
    try:
        number = int(json.loads(latest.read_bytes())["number"])
        return number, read_head((heads / f"{number}.txt").read_bytes())
    except (OSError, ValueError, KeyError, TypeError, HeadError) as error:
        raise HeadsError(
            f"{heads}: the last head published cannot be read ({error}): restore it before publishing more"
        ) from None


def _write(path: Path, data: bytes) -> None:
    """Replace the file whole (a reader never sees half of it)."""
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_bytes(data)
    staged.replace(path)
