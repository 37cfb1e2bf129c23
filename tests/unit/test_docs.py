"""Every document the code and the docs cite is in the repository (a file named `X.md` exists where the
citation points: beside the citing file, at the repository's root, or under docs/)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SEARCHED = ("services", "tests", "loadtests", "tools", "docs", "schemas", "deploy")
CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
# Applied migrations cannot change (their checksums guard them); 0009 replaced what 0001 said in the
# database, and 0004's header is history.
IMMUTABLE = {"schemas/sql/0001_schemas.sql", "schemas/sql/0004_read_contract.sql", "tests/unit/test_docs.py"}


def cited() -> list[tuple[Path, str]]:
    files = [ROOT / "README.md"]
    for folder in SEARCHED:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".sql", ".yml", ".yaml", ".sh"}]
    return [(path, name) for path in files if str(path.relative_to(ROOT)) not in IMMUTABLE
            for name in CITATION.findall(path.read_text(errors="replace"))]  # fmt: skip


def test_every_cited_document_exists() -> None:
    """The load tests' own reports (loadtests/results/, written when they run) are not citations."""
    missing = [f"{path.relative_to(ROOT)}: {name}" for path, name in cited()
               if not any((base / name).is_file() for base in (path.parent, ROOT, ROOT / "docs"))
               and not (name.startswith("loadtests/results/") or path.parent == ROOT / "loadtests")]  # fmt: skip
    assert missing == []


def test_the_scan_finds_citations() -> None:
    assert any(name == "docs/contract.md" for _, name in cited()), "the scan reads the citations it should"
