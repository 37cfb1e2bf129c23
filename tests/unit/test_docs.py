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


# -- the documents themselves: a short README, an index that reaches every document, links that lead somewhere

MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MOST_LINES = 250
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
SPAN = re.compile(r"`([^`\n]+)`")
REPOSITORY_PATH = re.compile(r"^(?:services|tests|loadtests|tools|schemas|deploy|docs)/[\w./*-]*$")


def links(path: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(path.read_text())]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a document's headings: lower case, punctuation but - and _ dropped, spaces made -."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ +(.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_short() -> None:
    """What Rekap is, the two commands, a map: the rest lives in docs/, by role."""
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MOST_LINES, f"README.md has {lines} lines: move what is not an overview to docs/"


def test_the_index_links_every_document() -> None:
    """A new document in docs/ is reached from docs/index.md, so none is orphaned (a folder by its own link)."""
    index = ROOT / "docs" / "index.md"
    assert index.is_file(), "docs/ has no index.md: the map of the documents, by role"
    linked = {(index.parent / target.split("#")[0]).resolve() for target in links(index) if "://" not in target}
    orphans = [p.name for p in sorted((ROOT / "docs").iterdir()) if p != index and p.resolve() not in linked]
    assert orphans == [], "docs/index.md does not link these"


def test_every_image_is_shown() -> None:
    shown = {(path.parent / target).resolve() for path in MARKDOWN for target in links(path)}
    unused = [p.name for p in sorted((ROOT / "docs" / "images").iterdir()) if p.resolve() not in shown]
    assert unused == [], "no document shows these images"


def test_every_link_leads_to_a_file_and_a_heading() -> None:
    """Relative links of the README and docs/*.md lead to a file or folder of the repository, and an anchor
    (#...) to a heading of the document it names."""
    broken = []
    for path in MARKDOWN:
        for target in links(path):
            if re.match(r"^[a-z]+:", target):
                continue
            name, _, anchor = target.partition("#")
            goal = (path.parent / name).resolve() if name else path
            if not goal.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}: no such file")
            elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
                broken.append(f"{path.relative_to(ROOT)}: {target}: no such heading")
    assert broken == []


def test_every_path_the_documents_quote_exists() -> None:
    """`services/...`, `tests/...`, `docs/...` and the like, quoted in the README and docs/*.md, are in the
    repository (a pattern, with *, matches something); placeholders (NNNN, <...>) and the load tests'
    results (written when they run, not kept) are not paths."""
    missing = []
    for path in MARKDOWN:
        for span in SPAN.findall(path.read_text()):
            quoted = span.split(" ")[0].rstrip(",:;")
            if not REPOSITORY_PATH.match(quoted) or "NNNN" in quoted or quoted.startswith("loadtests/results/"):
                continue
            if not (any(ROOT.glob(quoted.rstrip("/"))) if "*" in quoted else (ROOT / quoted).exists()):
                missing.append(f"{path.relative_to(ROOT)}: {quoted}")
    assert missing == []


def test_every_make_target_the_documents_name_is_in_the_makefile() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = set()
    for path in MARKDOWN:
        text = path.read_text()
        blocks = "\n".join(re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL))
        named |= {(path.relative_to(ROOT), t) for t in re.findall(r"`make ([\w-]+)", text)}
        named |= {(path.relative_to(ROOT), t) for t in re.findall(r"^make ([\w-]+)", blocks, re.MULTILINE)}
    assert len(named) > 10
    assert sorted(f"{p}: make {t}" for p, t in named if t not in targets) == []
