"""A terminals file for bulk registration: CSV with the header `terminal_id,scope,public_key` (the key
as base64 of its 32 bytes, or a PEM block), one terminal a line. Read and checked line by line, each field
of a line on its own; every problem is reported as `file:line: message`, and none of the file is
registered while any remains."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rekap.domain.signing import read_public_key
from rekap.domain.terminals import TERMINAL_ID, Scope, Terminal

COLUMNS = ("terminal_id", "scope", "public_key")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Entry:
    """A line of three fields, read as far as it could be: None for a field that says nothing valid (or,
    for the id, one that an earlier line has)."""

    line: int
    terminal_id: str | None
    public_key: bytes | None
    scope: Scope | None

    @property
    def terminal(self) -> Terminal | None:
        if self.terminal_id is None or self.public_key is None or self.scope is None:
            return None
        return Terminal(self.terminal_id, self.public_key, self.scope)


@dataclass(frozen=True)
class TerminalsFile:
    path: Path
    entries: list[Entry]
    lines: dict[str, int]  # terminal id -> its line
    problems: list[tuple[int, str]]  # (line, message), in line order

    @property
    def terminals(self) -> list[Terminal]:
        """The terminals of the lines that were read whole."""
        return [t for t in (entry.terminal for entry in self.entries) if t is not None]

    def said(self, problems: list[tuple[int, str]]) -> list[str]:
        """Problems as `file:line: message`, in line order (a line's own in the order found)."""
        return [f"{self.path}:{line}: {message}" for line, message in sorted(problems, key=lambda p: p[0])]


def read_terminals_file(path: Path) -> TerminalsFile:
    """Raises OSError when the file cannot be read; everything else about it is a problem of a line."""
    entries: list[Entry] = []
    lines: dict[str, int] = {}  # terminal id -> its first line
    problems: list[tuple[int, str]] = []
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(c.strip() for c in header) != COLUMNS:
            return TerminalsFile(path, [], {}, [(1, f"the header must be {','.join(COLUMNS)}, not {header}")])
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(COLUMNS):
                problems.append((line, f"{len(row)} fields, a line has {len(COLUMNS)}"))
                continue
            id_text, scope_text, key_text = (cell.strip() for cell in row)
            terminal_id = _field(_terminal_id, id_text, line, problems)
            if terminal_id is not None and terminal_id in lines:
                problems.append((line, f"{terminal_id} is on line {lines[terminal_id]} already"))
                terminal_id = None
            elif terminal_id is not None:
                lines[terminal_id] = line
            scope = _field(Scope.parse, scope_text, line, problems)
            public_key = _field(read_public_key, key_text, line, problems)
            entries.append(Entry(line, terminal_id, public_key, scope))
    return TerminalsFile(path, entries, lines, problems)


def _field(read: Callable[[str], T], text: str, line: int, problems: list[tuple[int, str]]) -> T | None:
    """The field as `read` reads it; else None, and why noted as a problem of the line."""
    try:
        return read(text)
    except ValueError as error:
        problems.append((line, str(error)))
        return None


def _terminal_id(text: str) -> str:
    if TERMINAL_ID.fullmatch(text) is None:
        raise ValueError(f"{text!r} is no terminal id (3-64 of a-z, 0-9, '.', '_', '-')")
    return text
