"""The house's layers, checked on the source: the pure domain imports no I/O and nothing outside the
domain; the PostgreSQL and Kafka adapters import the domain, not each other's readers or the CLI."""

from __future__ import annotations

import ast
import re
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
    # (Pillow decodes a photo from its bytes in memory: domain/photos.py's rules read no file.)
    assert all(m.split(".")[0] in sys.stdlib_module_names or m.split(".")[0] in {"rekap", "pydantic", "nacl", "PIL"}
               for m in imports(path)), imports(path)  # fmt: skip


@pytest.mark.parametrize("path", sorted((SERVICES / "adapters").rglob("*.py")), ids=lambda p: p.name)
def test_the_adapters_do_not_reach_into_readers_or_commands(path: Path) -> None:
    wrong = {m for m in imports(path) if m.startswith(("rekap.masterdata", "rekap.cli", "rekap.tabulator"))}
    assert wrong == set()


# The house's layers, lowest first. Each part may import its own modules and the parts of the layers below
# it, never one above: domain <- app <- adapters and the command line, the settings below all but the base.
BASE = {"errors", "numbers", "access", "retry", "resources", "__init__"}  # what anything may use
LAYERS: list[set[str]] = [
    BASE,
    {"domain"},
    {"simulation"},  # pure: simulated terminals, forms and nights (for the demo, tests and load tests)
    {"config", "logs"},
    {"app"},  # the use cases (ports they need are theirs)
    {"adapters"},
    {
        "registration",
        "publisher",
        "masterdata",
        "report",
        "audit",
        "site",
        "tabulator",
        "photos",
        "bootstrap",
        "wiring",
    },  # what Rekap does, and the composition roots (the tabulator's, the command line's)
    {"devstack"},  # the local stack: resolves its own servers and logins into the settings
    {"cli", "__main__"},
]
LAYER_OF = {part: index for index, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """rekap.adapters.postgres.site -> adapters; rekap.config -> config."""
    return module.split(".")[1] if module.count(".") else "__init__"


@pytest.mark.parametrize("path", sorted(SERVICES.rglob("*.py")), ids=lambda p: str(p.relative_to(SERVICES)))
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    relative = path.relative_to(SERVICES)
    part = relative.parts[0].removesuffix(".py")
    assert part in LAYER_OF, f"{relative}: a part of no layer (add it to LAYERS)"
    above = {m for m in imports(path) if m.startswith("rekap.") and LAYER_OF[part_of(m)] > LAYER_OF[part]}
    assert above == set(), f"{relative} imports a layer above its own"


def test_the_layers_name_every_part_of_the_house() -> None:
    parts = {
        p.name.removesuffix(".py") for p in SERVICES.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert parts - set(LAYER_OF) == set()


def test_only_the_boundary_names_the_driver_s_errors_and_only_connection_py_connects() -> None:
    """Every call goes through the error boundary by construction: nobody catches asyncpg's errors but
    adapters/postgres/errors.py, and only adapters/postgres/connection.py opens connections."""
    wrong = []
    for path in sorted(SERVICES.rglob("*.py")):
        relative = str(path.relative_to(SERVICES))
        for node in ast.walk(ast.parse(path.read_text())):
            caught = ast.unparse(node.type) if isinstance(node, ast.ExceptHandler) and node.type else ""
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("suppress"):
                caught = ast.unparse(node)
            if "asyncpg" in caught and relative != "adapters/postgres/errors.py":
                wrong.append(f"{relative}:{node.lineno}: except {caught}")  # type: ignore[attr-defined]
            called = ast.unparse(node) if isinstance(node, ast.Attribute) else ""
            if called in {"asyncpg.connect", "asyncpg.create_pool"} and relative != "adapters/postgres/connection.py":
                wrong.append(f"{relative}:{node.lineno}: {called}")  # type: ignore[attr-defined]
    assert wrong == []


DRIVERS = ("rekap.adapters", "asyncpg", "aiokafka", "confluent_kafka")


def test_the_command_line_reaches_no_adapter_or_driver_itself() -> None:
    """It parses, calls a use case (rekap.app, given its ports by rekap.wiring) and prints: no adapter, no
    driver, no connection in its hands."""
    reaching = {
        f"{path.name}: {module}"
        for path in sorted((SERVICES / "cli").glob("*.py"))
        for module in imports(path)
        if module.startswith(DRIVERS)
    }
    assert reaching == set()


def test_no_race_or_province_is_named_in_code() -> None:
    """What election, race and province Rekap counts comes from the master data: no contest id or province
    code is written in the code (examples in help texts and docstrings aside)."""
    named = [
        f"{path.relative_to(SERVICES)}:{node.lineno}: {node.value!r}"
        for path in sorted(SERVICES.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and (re.fullmatch(r"pkwk[pk]-\d+", node.value) or node.value == "Sumatera Selatan")
    ]  # fmt: skip
    assert named == []


# What an adapter still hands out untyped (rows by column name): the list only shrinks.
UNTYPED_STILL: set[str] = set()


def test_adapters_return_typed_rows_but_for_those_listed() -> None:
    """A public adapter function returns frozen dataclasses (or plain values), not asyncpg records or
    dictionaries by column name, but for the ones still listed."""
    untyped = {
        f"{path.relative_to(SERVICES / 'adapters')}: {node.name}"
        for path in sorted((SERVICES / "adapters").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
        and node.returns is not None
        and any(kind in ast.unparse(node.returns) for kind in ("asyncpg.Record", "dict[str, Any]"))
    }  # fmt: skip
    assert untyped == UNTYPED_STILL


def test_one_way_to_draw_html() -> None:
    """Every page (the site's, the recapitulation) is drawn by plain functions with markupsafe's escape: no
    template engine, no template file."""
    engines = {
        f"{path.relative_to(SERVICES)}: {module}"
        for path in sorted(SERVICES.rglob("*.py"))
        for module in imports(path)
        if module.split(".")[0] in {"jinja2", "mako", "chameleon", "genshi"}
    }
    templates = [str(p.relative_to(SERVICES)) for p in SERVICES.rglob("*") if p.suffix in {".j2", ".jinja", ".jinja2"}]
    assert (engines, templates) == (set(), [])
