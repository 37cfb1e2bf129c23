"""`rekap terminal ...`: the data-entry terminals allowed to submit forms, and their keys."""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

from rekap.app import terminals as registry
from rekap.app.regions import region_code
from rekap.app.terminals import TerminalError
from rekap.cli.common import (
    OPERATOR_DB,
    SubParsers,
    add_command,
    local_time,
    say,
    say_registry,
)
from rekap.config import Settings
from rekap.domain.regions import Level
from rekap.domain.signing import SigningKey, private_key_pem, public_key_pem, read_public_key
from rekap.domain.terminals import TERMINAL_ID, Scope, Terminal
from rekap.errors import ConfigError, UsageError
from rekap.registration import TerminalsFile, read_terminals_file
from rekap.wiring import with_session


def terminal_id(text: str) -> str:
    if TERMINAL_ID.fullmatch(text) is None:
        raise argparse.ArgumentTypeError("3-64 characters: lower-case letters, digits, '.', '_', '-'")
    return text


def scope(text: str) -> Scope:
    try:
        return Scope.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def keygen(_: Settings, args: argparse.Namespace) -> int:
    """A new key pair: the private key stays with the terminal, the public key is registered."""
    key = SigningKey.generate()
    args.out.mkdir(parents=True, exist_ok=True)
    private, public = args.out / f"{args.terminal_id}.key", args.out / f"{args.terminal_id}.pub"
    if private.exists():
        raise ConfigError(f"{private} exists; a key is never overwritten")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private_key_pem(key))
    public.write_text(public_key_pem(key.public_key))
    say(f"private key: {private} (keep it on the terminal)")
    say(f"public key:  {public}")
    say(f"             {base64.b64encode(key.public_key).decode()}")
    return 0


def register_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.source is not None:
        if args.terminal_id or args.scope or args.public_key:
            raise ConfigError("--from FILE registers the file's terminals: give no ID, --scope or --public-key")
        return register_file(settings, args.source)
    if not (args.terminal_id and args.scope and args.public_key):
        raise ConfigError("register one terminal (ID --scope ... --public-key ...) or a file of them (--from FILE)")
    terminal = Terminal(args.terminal_id, _public_key(args.public_key), args.scope)

    done = with_session(settings, lambda session: registry.register(session, [terminal]))
    say(f"{'registered' if done.new else 'already registered'}: {terminal.terminal_id} for {terminal.scope}")
    say_registry(done.head)
    return 0


def _public_key(given: str) -> bytes:
    """--public-key: a file holding the key (PEM or base64), or the key itself. Text no file could be named
    (too long, a NUL) is taken as the key; neither is said in one line, without the text (it may be long)."""
    text = given
    try:
        if Path(given).is_file():
            text = Path(given).read_text(encoding="ascii", errors="replace")
    except (OSError, ValueError):  # too long a name, a NUL in it: no file, so the key itself
        pass
    try:
        return read_public_key(text)
    except ValueError as error:
        raise UsageError(f"--public-key: neither a file holding a public key nor one itself: {error}") from None


def register_file(settings: Settings, path: Path) -> int:
    """Every terminal of the file in one transaction, or none: every problem said as file:line, in line order,
    those only the database knows (a scope not in the master data, an id taken) with the file's own."""
    started = time.monotonic()
    try:
        loaded = read_terminals_file(path)
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    if not loaded.entries and not loaded.problems:
        raise ConfigError(f"{path}: no terminals in it")
    if loaded.problems:  # nothing will be registered: still, what the database would refuse is said now too
        problems = loaded.problems + _refused(settings, loaded)
    else:
        terminals = loaded.terminals
        try:
            done = with_session(settings, lambda session: registry.register(session, terminals))
        except TerminalError as error:
            if not error.problems:
                raise
            problems = [
                (loaded.lines.get(terminal_id, 0), f"{terminal_id}: {why}") for terminal_id, why in error.problems
            ]
        else:
            took = time.monotonic() - started
            say(
                f"{path}: {len(terminals):,} terminals, {done.new:,} newly registered, "
                f"{len(terminals) - done.new:,} already registered as they are ({took:.1f} s)"
            )
            say_registry(done.head)
            return 0
    for problem in loaded.said(problems):
        print(problem, file=sys.stderr)
    raise ConfigError(f"{path}: {len(problems)} problem(s); nothing was registered")


def _refused(settings: Settings, loaded: TerminalsFile) -> list[tuple[int, str]]:
    """What the database would refuse of the file's lines, as far as each was read: (line, message)."""
    if not loaded.entries:
        return []
    parts: list[registry.Registration] = [(e.terminal_id, e.public_key, e.scope) for e in loaded.entries]
    refused = with_session(settings, lambda session: registry.refused(session, parts))
    entries = loaded.entries
    return [
        (entries[n].line, f"{entries[n].terminal_id}: {why}" if entries[n].terminal_id else why) for n, why in refused
    ]


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    kecamatan = region_code(args.kecamatan, Level.KECAMATAN) if args.kecamatan is not None else None

    listed = with_session(settings, lambda session: registry.terminals(session, kecamatan))
    records = [r for r in listed if _listed(r.terminal, args)]
    say(f"{'terminal':<28} {'scope':<24} {'state':<8} registered")
    for r in records:
        state = "active" if r.terminal.active else "revoked"
        registered = local_time(r.registered_at, r.time_zone, r.zone)
        say(f"{r.terminal.terminal_id:<28} {r.terminal.scope!s:<24} {state:<8} {registered}")
    say(f"{len(records)} terminal(s), {sum(r.terminal.active for r in records)} active")
    return 0


def _listed(terminal: Terminal, args: argparse.Namespace) -> bool:
    """Whether the terminal passes `terminal list`'s filters."""
    if args.scope_kind and terminal.scope.kind.value != args.scope_kind:
        return False
    if args.kecamatan and terminal.scope.code[:6] != args.kecamatan:
        return False
    return not (args.revoked and terminal.active) and not (args.active and not terminal.active)


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    head = with_session(settings, lambda session: registry.revoke(session, args.terminal_id))
    say(f"revoked: {args.terminal_id} (its forms from now on are rejected)")
    say_registry(head)
    return 0


REGISTER = """rekap terminal register kpps-1671011001001 --scope tps:1671011001001 --public-key kpps-1671011001001.pub
rekap terminal register --from vendor-a.csv   # a CSV with the header terminal_id,scope,public_key"""


def register(commands: SubParsers) -> None:
    terminal = commands.add_parser("terminal", help="data-entry terminals and their keys")
    actions = terminal.add_subparsers(title="terminal commands", required=True, metavar="ACTION")
    gen = add_command(
        actions,
        "keygen",
        keygen,
        "make an Ed25519 key pair for a terminal (PEM files)",
        reads=(),
        example="rekap terminal keygen kpps-1671011001001 --out keys/   # .key (private) and .pub",
    )
    gen.add_argument("terminal_id", type=terminal_id)
    gen.add_argument("--out", type=Path, default=Path(), metavar="DIR")
    reg = add_command(
        actions,
        "register",
        register_command,
        "register a terminal's public key and scope, or a file of them (--from)",
        reads=OPERATOR_DB,
        example=REGISTER,
    )
    reg.add_argument("terminal_id", type=terminal_id, nargs="?")
    reg.add_argument("--scope", type=scope, help="tps:<13 digits> or kecamatan:<6 digits>")
    reg.add_argument("--public-key", help="a PEM file, or the key's 32 bytes in base64")
    reg.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="FILE",
        help="CSV with the header terminal_id,scope,public_key: all registered in one transaction, "
        "or none (every problem said as FILE:LINE)",
    )
    listing = add_command(
        actions,
        "list",
        list_command,
        "list the registered terminals",
        reads=OPERATOR_DB,
        example="rekap terminal list --kecamatan 167101 --active",
    )
    listing.add_argument("--scope", dest="scope_kind", choices=("tps", "kecamatan"), help="only this kind of scope")
    listing.add_argument("--kecamatan", metavar="CODE", help="only the terminals of this kecamatan (6 digits)")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", help="only the active ones")
    state.add_argument("--revoked", action="store_true", help="only the revoked ones")
    rev = add_command(
        actions,
        "revoke",
        revoke,
        "revoke a terminal: its forms are rejected from now on",
        reads=OPERATOR_DB,
        example="rekap terminal revoke kpps-1671011001001",
    )
    rev.add_argument("terminal_id", type=terminal_id)
