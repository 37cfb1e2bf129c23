"""Every alert has a runbook: its annotations.runbook_url is docs/runbook.md#ANCHOR, ANCHOR a heading of
docs/runbook.md (as GitHub makes anchors of headings); every section of the runbook names an alert that
exists, and says what it means, what to look at and what to do. Each check is shown to catch its breakage."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
RUNBOOK = REPO / "docs" / "runbook.md"
BASE = "docs/runbook.md#"  # runbook URLs are paths from the repository's root (docs/runbook.md says why)
PARTS = ("**Means**", "**Look at**", "**Do**")


def alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces made -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections(runbook: str) -> dict[str, str]:
    """Heading (level 2) -> its text."""
    parts = re.split(r"^## +(.+)$", runbook, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def problems(rules: dict[str, Any], runbook: str) -> list[str]:
    found = []
    headings = sections(runbook)
    anchors = {anchor(h) for h in headings}
    names = [rule["alert"] for rule in alerts(rules)]
    for rule in alerts(rules):
        url = str(rule.get("annotations", {}).get("runbook_url", ""))
        if not url.startswith(BASE):
            found.append(f"{rule['alert']}: runbook_url {url!r} is not {BASE}...")
        elif url.removeprefix(BASE) not in anchors:
            found.append(f"{rule['alert']}: no heading of docs/runbook.md has the anchor {url.removeprefix(BASE)!r}")
        elif url.removeprefix(BASE) != anchor(rule["alert"]):
            found.append(f"{rule['alert']}: its runbook_url points at another alert's section")
    found += [f"section {h!r} names no alert of rules.yml" for h in headings if h not in names]
    found += [
        f"section {h!r} does not say {part}" for h, text in headings.items() for part in PARTS if part not in text
    ]
    found += [f"link #{a} leads to no heading" for a in re.findall(r"\]\(#([\w-]+)\)", runbook) if a not in anchors]
    return found


def load() -> tuple[dict[str, Any], str]:
    return yaml.safe_load(RULES.read_text()), RUNBOOK.read_text()


def test_every_alert_has_a_runbook_section_and_every_section_an_alert() -> None:
    rules, runbook = load()
    assert len(alerts(rules)) >= 13
    assert problems(rules, runbook) == []


def test_a_heading_s_anchor_is_github_s() -> None:
    assert anchor("RekapTabulatorDown") == "rekaptabulatordown"
    assert anchor("What to do: now!") == "what-to-do-now"


def drop_url(rules: dict[str, Any], _: str) -> tuple[dict[str, Any], str]:
    del alerts(rules)[0]["annotations"]["runbook_url"]
    return rules, _


def absolute_url(rules: dict[str, Any], runbook: str) -> tuple[dict[str, Any], str]:
    alerts(rules)[0]["annotations"]["runbook_url"] = "https://wiki.example/rekap"
    return rules, runbook


def rename_alert(rules: dict[str, Any], runbook: str) -> tuple[dict[str, Any], str]:
    alerts(rules)[0]["alert"] = "RekapSomethingNew"
    alerts(rules)[0]["annotations"]["runbook_url"] = BASE + "rekapsomethingnew"
    return rules, runbook


def swap_urls(rules: dict[str, Any], runbook: str) -> tuple[dict[str, Any], str]:
    first, second = alerts(rules)[:2]
    first["annotations"]["runbook_url"], second["annotations"]["runbook_url"] = (
        second["annotations"]["runbook_url"], first["annotations"]["runbook_url"])  # fmt: skip
    return rules, runbook


def stray_section(rules: dict[str, Any], runbook: str) -> tuple[dict[str, Any], str]:
    return rules, runbook + "\n## RekapGone\n\n**Means**: x\n**Look at**: y\n**Do**: z\n"


def section_without_do(rules: dict[str, Any], runbook: str) -> tuple[dict[str, Any], str]:
    return rules, runbook.replace("**Do**", "**Then**", 1)


def dead_link(rules: dict[str, Any], runbook: str) -> tuple[dict[str, Any], str]:
    return rules, runbook + "\nSee [there](#rekapnowhere).\n"


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [(drop_url, "runbook_url '' is not"), (absolute_url, "is not docs/runbook.md#"),
     (rename_alert, "no heading of docs/runbook.md has the anchor 'rekapsomethingnew'"),
     (swap_urls, "another alert's section"), (stray_section, "'RekapGone' names no alert"),
     (section_without_do, "does not say **Do**"), (dead_link, "#rekapnowhere leads to no heading")],
)  # fmt: skip
def test_each_check_catches_its_breakage(breakage: Any, complaint: str) -> None:
    rules, runbook = load()
    broken = breakage(copy.deepcopy(rules), runbook)
    assert any(complaint in p for p in problems(*broken)), problems(*broken)
