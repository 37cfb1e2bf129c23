"""The election key: made once by the operator, its public half logged in the registry and published, its
private half only in a file of mode 600 (never in the database, never on a command line). It signs every
election head; a rotation is endorsed by the key before it, so a verifier that trusts the first key
follows the chain."""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rekap.adapters.postgres.connection import Connection, one_snapshot
from rekap.adapters.postgres.registry import election_head, election_key_leaves, log_election_key
from rekap.domain.head import KEY_NAME, TreeHead, endorse, key_id, sign_head
from rekap.domain.signing import SigningKey, private_key_pem, public_key_pem, read_private_key
from rekap.errors import RekapError


class ElectionKeyError(RekapError):
    """The election key is missing, unsafe, or not the one the registry names."""


@dataclass(frozen=True)
class KeyChange:
    public_key: bytes
    head: TreeHead  # the registry after the key was logged
    adopted: bool = False  # the file existed (made by openssl, say) and its key was logged
    retired: Path | None = None  # where a rotated key's file went


def read_key_file(path: Path) -> SigningKey:
    """The election key from its file, refused if the file can be read by anyone but its owner."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ElectionKeyError(
            f"No election key at {path}: make one with `rekap audit key create` (or point REKAP_ELECTION_KEY at it)."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ElectionKeyError(f"{path}: cannot be read as an election key: {error}") from None
    if mode & 0o077:
        raise ElectionKeyError(
            f"{path} can be read by others (mode {mode:o}): `chmod 600 {path}`, then think "
            "about who may have copied it (rotate it: `rekap audit key rotate`)."
        )
    try:
        return read_private_key(text)
    except ValueError as error:
        raise ElectionKeyError(f"{path}: {error}") from None


def write_key_file(path: Path, key: SigningKey) -> None:
    """A new file, mode 600 from its first byte (never readable by others, whatever the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ElectionKeyError(f"{path} exists already: nothing was written") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(private_key_pem(key))


def registry_keys(leaves: list[bytes]) -> list[bytes]:
    """The election keys the registry logged, in order (each leaf as the database wrote it)."""
    return [base64.b64decode(json.loads(leaf)["public_key"]) for leaf in leaves]


async def create_key(conn: Connection, path: Path) -> KeyChange:
    """The first election key: the file's, if one is there (made by `openssl genpkey -algorithm ed25519`,
    say), else a new one; its public key logged in the registry."""
    if registry_keys(await election_key_leaves(conn)):
        raise ElectionKeyError("The registry holds an election key already: `rekap audit key rotate` replaces it.")
    key, adopted = _existing_or_new(path)
    async with conn.transaction():
        head = await log_election_key(conn, KEY_NAME, key.public_key, None)
    return KeyChange(key.public_key, head, adopted=adopted)


async def rotate_key(conn: Connection, path: Path) -> KeyChange:
    """A new election key, endorsed by the current one; the current one's file is kept beside it, renamed
    (destroy it once no head it signed needs signing again)."""
    old = await _current_key(conn, path)
    new = SigningKey.generate()
    staged = _staged(path, new)
    try:
        async with conn.transaction():
            head = await log_election_key(conn, KEY_NAME, new.public_key, endorse(old, new.public_key))
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return KeyChange(new.public_key, head, retired=_swap(path, staged))


def _existing_or_new(path: Path) -> tuple[SigningKey, bool]:
    """The key in the file (True), or a new one written there (False)."""
    if path.exists():
        return read_key_file(path), True
    key = SigningKey.generate()
    write_key_file(path, key)
    return key, False


def _staged(path: Path, key: SigningKey) -> Path:
    staged = path.with_name(path.name + ".new")
    staged.unlink(missing_ok=True)
    write_key_file(staged, key)
    return staged


def _swap(path: Path, staged: Path) -> Path:
    """The new key in the file's place, the old one kept beside it, renamed: returns where."""
    retired = path.with_name(f"{path.name}.retired-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    path.rename(retired)
    staged.rename(path)
    return retired


def describe_key(public_key: bytes) -> str:
    """The public key as it is published: PEM, with its signed-note key ID."""
    return f"{public_key_pem(public_key)}key name {KEY_NAME}, key ID {key_id(KEY_NAME, public_key).hex()}\n"


def public_key_of(path: Path) -> bytes:
    return read_key_file(path).public_key


async def _current_key(conn: Connection, path: Path) -> SigningKey:
    key = read_key_file(path)
    logged = registry_keys(await election_key_leaves(conn))
    if not logged:
        raise ElectionKeyError("The registry holds no election key: `rekap audit key create` makes the first.")
    if logged[-1] != key.public_key:
        raise ElectionKeyError(
            f"The key in {path} is not the election key the registry names last: heads it "
            "signed would not verify. Use the current key's file (REKAP_ELECTION_KEY)."
        )
    return key


async def signed_head_now(conn: Connection, path: Path) -> bytes:
    """The election head as the database stands, signed: in one snapshot (call it inside the caller's, for
    a head of the same moment as what the caller reads)."""
    key = await _current_key(conn, path)
    return sign_head(await election_head(conn), key)


async def sign_now(conn: Connection, path: Path) -> bytes:
    """A signed head in a snapshot of its own."""
    async with one_snapshot(conn):
        return await signed_head_now(conn, path)
