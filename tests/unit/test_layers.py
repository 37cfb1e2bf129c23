"""The house's layers, checked on the source: the pure domain imports no I/O and nothing outside the
domain; the PostgreSQL and Kafka adapters import the domain, not each other's readers or the CLI."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services" / "rekap"
IO = {"asyncio", "asyncpg", "aiokafka", "socket", "subprocess", "prometheus_client", "structlog", "os", "pathlib"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((SERVICES / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_no_io_and_nothing_outside_it(path: Path) -> None:
    outside = {m for m in imports(path) if m.split(".")[0] in IO or (m.startswith("rekap.") and not (
        m.startswith("rekap.domain") or m == "rekap.errors"))}  # fmt: skip
    assert outside == set()
    assert all(m.split(".")[0] in sys.stdlib_module_names or m.split(".")[0] in {"rekap", "pydantic", "nacl"}
               for m in imports(path)), imports(path)  # fmt: skip


@pytest.mark.parametrize("path", sorted((SERVICES / "adapters").rglob("*.py")), ids=lambda p: p.name)
def test_the_adapters_do_not_reach_into_readers_or_commands(path: Path) -> None:
    wrong = {m for m in imports(path) if m.startswith(("rekap.masterdata", "rekap.cli", "rekap.tabulator"))}
    assert wrong == set()
