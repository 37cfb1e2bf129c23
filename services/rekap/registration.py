"""A terminals file for bulk registration: CSV with the header `terminal_id,scope,public_key` (the key
as base64 of its 32 bytes, or a PEM block), one terminal a line. Read and checked line by line; every
problem is reported as `file:line: message`, and none of the file is registered while any remains."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from rekap.domain.signing import read_public_key
from rekap.domain.terminals import TERMINAL_ID, Scope, Terminal

COLUMNS = ("terminal_id", "scope", "public_key")


@dataclass(frozen=True)
class TerminalsFile:
    path: Path
    terminals: list[Terminal]
    lines: dict[str, int]  # terminal id -> its line
    problems: list[str]  # "file:line: message"

    def at(self, terminal_id: str, message: str) -> str:
        return f"{self.path}:{self.lines.get(terminal_id, 0)}: {terminal_id}: {message}"


def read_terminals_file(path: Path) -> TerminalsFile:
    """Raises OSError when the file cannot be read; everything else about it is a problem of a line."""
    terminals: list[Terminal] = []
    lines: dict[str, int] = {}
    problems: list[str] = []
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(c.strip() for c in header) != COLUMNS:
            return TerminalsFile(path, [], {}, [f"{path}:1: the header must be {','.join(COLUMNS)}, not {header}"])
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(COLUMNS):
                problems.append(f"{path}:{line}: {len(row)} fields, a line has {len(COLUMNS)}")
                continue
            terminal_id, scope_text, key_text = (cell.strip() for cell in row)
            try:
                terminal = _terminal(terminal_id, scope_text, key_text)
            except ValueError as error:
                problems.append(f"{path}:{line}: {error}")
                continue
            if terminal_id in lines:
                problems.append(f"{path}:{line}: {terminal_id} is on line {lines[terminal_id]} already")
                continue
            lines[terminal_id] = line
            terminals.append(terminal)
    return TerminalsFile(path, terminals, lines, problems)


def _terminal(terminal_id: str, scope: str, public_key: str) -> Terminal:
    if TERMINAL_ID.fullmatch(terminal_id) is None:
        raise ValueError(f"{terminal_id!r} is no terminal id (3-64 of a-z, 0-9, '.', '_', '-')")
    return Terminal(terminal_id, read_public_key(public_key), Scope.parse(scope))
