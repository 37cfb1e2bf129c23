"""`rekap terminal ...`: the data-entry terminals allowed to submit forms, and their keys."""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path

import asyncpg

from rekap.adapters.postgres.terminals import list_terminals, register_terminals, revoke_terminal
from rekap.cli.common import SubParsers, add_command, say, with_connection
from rekap.config import Settings
from rekap.domain.signing import SigningKey, private_key_pem, public_key_pem, read_public_key
from rekap.domain.terminals import TERMINAL_ID, Scope, Terminal
from rekap.errors import ConfigError


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
    text = args.public_key
    if Path(text).is_file():
        text = Path(text).read_text()
    try:
        public_key = read_public_key(text)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    terminal = Terminal(args.terminal_id, public_key, args.scope)

    async def work(conn: asyncpg.Connection) -> int:
        return await register_terminals(conn, [terminal])

    new = with_connection(settings, work)
    say(f"{'registered' if new else 'already registered'}: {terminal.terminal_id} for {terminal.scope}")
    return 0


def list_command(settings: Settings, _: argparse.Namespace) -> int:
    records = with_connection(settings, list_terminals)
    say(f"{'terminal':<28} {'scope':<24} {'state':<8} registered")
    for r in records:
        state = "active" if r.terminal.active else "revoked"
        say(f"{r.terminal.terminal_id:<28} {r.terminal.scope!s:<24} {state:<8} {r.registered_at:%Y-%m-%d %H:%M}")
    say(f"{len(records)} terminal(s), {sum(r.terminal.active for r in records)} active")
    return 0


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> None:
        await revoke_terminal(conn, args.terminal_id)

    with_connection(settings, work)
    say(f"revoked: {args.terminal_id} (its forms from now on are rejected)")
    return 0


def register(commands: SubParsers) -> None:
    terminal = commands.add_parser("terminal", help="data-entry terminals and their keys")
    actions = terminal.add_subparsers(title="terminal commands", required=True, metavar="ACTION")
    gen = add_command(actions, "keygen", keygen, "make an Ed25519 key pair for a terminal (PEM files)")
    gen.add_argument("terminal_id", type=terminal_id)
    gen.add_argument("--out", type=Path, default=Path(), metavar="DIR")
    reg = add_command(actions, "register", register_command, "register a terminal's public key and scope")
    reg.add_argument("terminal_id", type=terminal_id)
    reg.add_argument("--scope", type=scope, required=True, help="tps:<13 digits> or kecamatan:<6 digits>")
    reg.add_argument("--public-key", required=True, help="a PEM file, or the key's 32 bytes in base64")
    add_command(actions, "list", list_command, "list the registered terminals")
    rev = add_command(actions, "revoke", revoke, "revoke a terminal: its forms are rejected from now on")
    rev.add_argument("terminal_id", type=terminal_id)
