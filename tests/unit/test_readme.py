"""The documents say what the code does: every setting is a row of the configuration table
(docs/operators.md), every sub-command and every option a row of the command table (docs/commands.md), every
metric a row of the metrics table (docs/monitoring.md); every `rekap ...` line of the README and docs/ is one
the command line takes."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rekap.cli import build_parser
from rekap.config import Settings
from rekap.photos.metrics import PhotoMetrics
from rekap.tabulator.metrics import TabulatorMetrics

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
COMMANDS = (REPO / "docs" / "commands.md").read_text()
OPERATORS = (REPO / "docs" / "operators.md").read_text()
MONITORING = (REPO / "docs" / "monitoring.md").read_text()


def table_keys(document: str, heading: str) -> list[str]:
    """The first cell of each row of the tables under a heading (to the next heading of its level or above)."""
    level = heading.split(" ", maxsplit=1)[0]
    section = document.split(f"\n{heading}\n", 1)[1]
    section = re.split(rf"^#{{1,{len(level)}}} ", section, maxsplit=1, flags=re.MULTILINE)[0]
    return [cell.strip() for cell in re.findall(r"^\|([^|]+)\|", section, re.MULTILINE)][2:]


def test_every_setting_is_a_row_of_the_configuration_table() -> None:
    keys = table_keys(OPERATORS, "## Configuration")
    missing = [
        f"{Settings.environment_variable(name)} ({field.description})"
        for name, field in Settings.model_fields.items()
        if not any(f"`{Settings.environment_variable(name)}`" in key.split(" (or ")[0] for key in keys)
    ]
    assert missing == [], 'not in the table of docs/operators.md, "Configuration"'


def test_every_command_is_documented() -> None:
    assert [f"rekap {c}" for c in commands(build_parser()) if not re.search(f"`rekap {c}[` ]", COMMANDS)] == []


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix}{name} ")
                found.extend(nested or [f"{prefix}{name}"])
    return found


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings if o.startswith("--") and o != "--help"}


def leaves(parser: argparse.ArgumentParser, words: str = "") -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= leaves(sub, f"{words}{name} ") or {f"{words}{name}": sub}
    return found


def test_the_command_table_lists_every_option_of_every_command() -> None:
    """Each command's rows of the table of docs/commands.md (`| \\`rekap X ...\\` | ... |`) show exactly its
    options."""
    rows = re.findall(r"^\| `rekap ([^`]+)` \|", COMMANDS, re.MULTILINE)
    wrong = {}
    for words, parser in leaves(build_parser()).items():
        shown = {o for row in rows if re.match(f"{re.escape(words)}( |$)", row) for o in re.findall(r"--[\w-]+", row)}
        if shown != options(parser):
            wrong[words] = {"not in the table": options(parser) - shown, "not an option": shown - options(parser)}
    assert wrong == {}


DOCS = [README, *(p.read_text() for p in sorted((REPO / "docs").glob("*.md")))]


def test_every_command_line_the_documents_show_is_one_the_cli_takes() -> None:
    """`rekap ...` in the README and docs/ (inline or in a code block) names a command the CLI has (or a
    group of them) and only options that command takes."""
    every = leaves(build_parser())
    groups = {" ".join(words.split()[:n]) for words in every for n in range(1, len(words.split()))}
    lines = [
        m for doc in DOCS for m in re.findall(r"(?:^\s*(?:\$ )?|`)(?:\.venv/bin/)?rekap ([^`\n|]*)", doc, re.MULTILINE)
    ]
    wrong = []
    for line in lines:
        words = re.findall(r"^(?:[a-z][\w-]* ?)+", line.split(" --")[0])[0].split() if line[:1].isalpha() else []
        command = next((" ".join(words[:n]) for n in range(len(words), 0, -1) if " ".join(words[:n]) in every), None)
        if command is None:
            if words and words[0] not in groups and words[0] not in every:
                wrong.append(f"{line}: no such command")
            continue
        unknown = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", line)) - options(every[command]) - {"--help"}
        if unknown:
            wrong.append(f"{line}: {command} has no {sorted(unknown)}")
    assert len(lines) > 50
    assert wrong == [], "\n".join(wrong)


def test_every_metric_is_a_row_of_the_metrics_table_and_every_row_a_metric() -> None:
    """As /metrics names them: a counter with _total, an info with _info; labels in braces are the row's own."""
    suffix = {"counter": "_total", "info": "_info", "histogram": "", "gauge": ""}
    families = [*TabulatorMetrics().registry.collect(), *PhotoMetrics().registry.collect()]
    exported = {family.name + suffix[family.type] for family in families}
    documented = {name for key in table_keys(MONITORING, "## Health and metrics")
                  for name in re.findall(r"`(rekap_\w+)", key)}  # fmt: skip
    assert {"not in docs/monitoring.md": exported - documented, "not exported": documented - exported} == {
        "not in docs/monitoring.md": set(),
        "not exported": set(),
    }
