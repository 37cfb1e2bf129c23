"""`rekap audit watch`: a witness. It fetches the heads a site published since the last one it kept, checks
each (signed by the election key, naming the one before it, with consistency proofs that it extends it),
and keeps them; a head that does not extend what it kept is an alarm, with both heads kept as evidence.
Parties, monitors and journalists run it every minute on election night."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rekap.domain.head import HeadError, SignedHead, read_head
from rekap.domain.merkle import verify_consistency
from rekap.domain.signing import public_key_pem, read_public_key
from rekap.errors import RekapError

FETCH_TIMEOUT_S = 20
MAX_BYTES = 64 * 1024 * 1024  # a proof or head is small; a registry of a national election is not


class WatchError(RekapError):
    """The source cannot be read (not an alarm: nothing was shown to be wrong)."""


@dataclass
class Watch:
    lines: list[str] = field(default_factory=list)  # one per check
    alarms: list[str] = field(default_factory=list)
    kept: int | None = None  # the number of the last head kept

    def ok(self, text: str) -> None:
        self.lines.append(f"ok    {text}")

    def alarm(self, text: str) -> None:
        self.lines.append(f"ALARM {text}")
        self.alarms.append(text)


Fetch = Callable[[str], bytes]


def fetcher(source: str) -> Fetch:
    """Reads files under `source`: a site's address (http:// or https://) or a folder."""
    if source.startswith(("http://", "https://")):
        base = source.rstrip("/") + "/"

        def fetch_url(path: str) -> bytes:
            try:
                with urllib.request.urlopen(base + path, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (http(s) only)
                    return bytes(response.read(MAX_BYTES))
            except urllib.error.HTTPError as error:
                raise WatchError(f"{base}{path}: HTTP {error.code}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                raise WatchError(f"{base}{path}: cannot be fetched: {getattr(error, 'reason', error)}") from None

        return fetch_url
    folder = Path(source)
    if not folder.is_dir():
        raise WatchError(f"{source}: neither a site's address (http:// or https://) nor a folder")

    def fetch_file(path: str) -> bytes:
        try:
            return (folder / path).read_bytes()
        except OSError as error:
            raise WatchError(f"{folder / path}: cannot be read: {error.strerror}") from None

    return fetch_file


def watch(source: str, keep: Path, election_key: bytes | None) -> Watch:
    """Fetch and check every head `source` published after the last one kept in `keep`; keep them."""
    fetch = fetcher(source)
    result = Watch()
    heads = keep / "heads"
    heads.mkdir(parents=True, exist_ok=True)
    key = _trusted_key(keep, fetch, election_key, result)
    latest = _json(fetch("audit/heads/latest.json"), "audit/heads/latest.json")
    number = latest.get("number")
    if not isinstance(number, int) or number < 1:
        raise WatchError("audit/heads/latest.json: no head number")
    kept = _last_kept(heads)
    if kept is None:
        signed = _fetch_head(fetch, number, key, result)
        if signed is not None:
            _keep(heads, number, signed)
            result.ok(f"head {number} kept: the first; later heads are checked against it")
            result.kept = number
        return result
    last, last_head = kept
    result.kept = last
    if number < last:
        _evidence(
            keep, last, None, result, f"the site's latest head is {number}, but {last} was kept: the site went back"
        )
        return result
    again = _fetch_head(fetch, last, key, result)
    if again is not None and again.text != last_head.text:
        _evidence(
            keep, last, again, result, f"head {last} on the site is not the head {last} kept: the history was rewritten"
        )
        return result
    for n in range(last + 1, number + 1):
        signed = _fetch_head(fetch, n, key, result)
        if signed is None:
            return result
        problem: str | None
        try:
            proof = _json(fetch(f"audit/heads/{n}.proof.json"), f"audit/heads/{n}.proof.json")
        except WatchError as error:
            problem = str(error)
        else:
            problem = extends(last_head, signed, proof)
        if problem is not None:
            _evidence(keep, last, signed, result, f"head {n} does not extend head {last}: {problem}")
            return result
        registry = f"{last_head.head.registry.size} -> {signed.head.registry.size}"
        result.ok(
            f"head {n} extends head {last}: registry {registry} leaves, {_records(last_head)} -> "
            f"{_records(signed)} records"
        )
        _keep(heads, n, signed)
        last, last_head = n, signed
        result.kept = n
    if number == result.kept and number == kept[0]:
        result.ok(f"head {number}: nothing new since it was kept")
    return result


def extends(old: SignedHead, new: SignedHead, proof: dict[str, Any]) -> str | None:  # noqa: PLR0911 (a return per way)
    """Why `proof` does not show that `new` extends `old`, or None when it does (RFC 9162 2.1.4.2)."""
    if proof.get("from") != old.sha256 or proof.get("to") != new.sha256:
        return "its proof is not from the head kept to this one"
    registry = proof.get("registry")
    if not isinstance(registry, dict) or not isinstance(proof.get("ledgers"), list):
        return "its proof is not a registry's and ledgers' proofs"
    problem = _consistent(
        "registry",
        old.head.registry.size,
        new.head.registry.size,
        old.head.registry.root,
        new.head.registry.root,
        given=registry,
    )
    if problem:
        return problem
    given = {(p.get("topic"), p.get("partition")): p for p in proof["ledgers"] if isinstance(p, dict)}
    for ledger in old.head.ledgers:
        now = new.head.ledger(ledger.topic, ledger.partition)
        if now is None:
            return f"the ledger of {ledger.topic}/{ledger.partition} is gone"
        if now.next_offset < ledger.next_offset:
            return f"the ledger of {ledger.topic}/{ledger.partition} went back from offset {ledger.next_offset}"
        problem = _consistent(
            f"the ledger of {ledger.topic}/{ledger.partition}",
            ledger.size,
            now.size,
            ledger.root,
            now.root,
            given=given.get((ledger.topic, ledger.partition), {}),
        )
        if problem:
            return problem
    return None


def _consistent(
    what: str, first: int, second: int, first_root: bytes, second_root: bytes, *, given: dict[str, Any]
) -> str | None:
    if second < first:
        return f"{what} shrank from {first} to {second}"
    try:
        hashes = [bytes.fromhex(h) for h in given.get("proof", [])] if first not in (0, second) else []
    except (TypeError, ValueError, AttributeError):
        return f"{what}: the proof is not hexadecimal hashes"
    if first == second:
        return None if first_root == second_root else f"{what}: the same size, another root"
    if first and (given.get("from"), given.get("to")) != (first, second):
        return f"{what}: the proof is not from {first} to {second}"
    if not verify_consistency(first, second, first_root, second_root, hashes):
        return f"{what}: the proof does not show that {second} begins with the {first} kept"
    return None


def _trusted_key(keep: Path, fetch: Fetch, given: bytes | None, result: Watch) -> bytes:
    path = keep / "election-key.pem"
    if given is not None:
        if not path.exists():
            path.write_text(public_key_pem(given))
        return given
    if path.exists():
        return read_public_key(path.read_text())
    try:
        key = read_public_key(fetch("audit/election-key.pem").decode("ascii", "replace"))
    except ValueError as error:
        raise WatchError(f"audit/election-key.pem: {error}") from None
    path.write_text(public_key_pem(key))
    result.ok("the election key taken from the site on this first run (better: the key KPU published, --election-key)")
    return key


def _fetch_head(fetch: Fetch, number: int, key: bytes, result: Watch) -> SignedHead | None:
    name = f"audit/heads/{number}.txt"
    try:
        signed = read_head(fetch(name))
    except HeadError as error:
        result.alarm(f"{name}: not a head: {error}")
        return None
    if not signed.signed_by(key):
        result.alarm(f"{name}: not signed by the election key")
        return None
    return signed


def _last_kept(heads: Path) -> tuple[int, SignedHead] | None:
    numbers = sorted(int(p.stem) for p in heads.glob("*.txt") if p.stem.isdigit())
    if not numbers:
        return None
    try:
        return numbers[-1], read_head((heads / f"{numbers[-1]}.txt").read_bytes())
    except HeadError as error:
        raise WatchError(f"{heads / f'{numbers[-1]}.txt'}: a head kept is no longer one: {error}") from None


def _keep(heads: Path, number: int, signed: SignedHead) -> None:
    (heads / f"{number}.txt").write_bytes(signed.text)


def _evidence(keep: Path, number: int, other: SignedHead | None, result: Watch, text: str) -> None:
    """Both heads kept, with what is wrong, in a folder of their own."""
    folder = keep / "evidence" / hashlib.sha256(text.encode()).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(keep / "heads" / f"{number}.txt", folder / f"kept-{number}.txt")
    if other is not None:
        (folder / "fetched.txt").write_bytes(other.text)
    (folder / "what.txt").write_text(text + "\n")
    result.alarm(f"{text} (evidence: {folder})")


def _json(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise WatchError(f"{name}: not JSON") from None
    if not isinstance(value, dict):
        raise WatchError(f"{name}: not a JSON object")
    return value


def _records(signed: SignedHead) -> str:
    return f"{sum(h.size for h in signed.head.ledgers):,}"
