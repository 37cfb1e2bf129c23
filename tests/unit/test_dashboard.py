"""The Grafana dashboard obeys the rules Grafana would enforce, or fail on quietly, when it loads it, checked
without a Grafana: unique panel ids, every panel placed, typed and titled and inside the grid, without
overlapping another; every datasource the provisioned Prometheus (or a datasource variable); every
variable a text uses defined, every variable defined used, and querying a metric the tabulator exports;
every Rekap metric a query names one the tabulator exports; a schemaVersion; the uid the documents link to
and a folder the provisioning reads.

Each rule is a function listing what breaks it; each is also shown to catch its breakage, on a copy of
the dashboard broken on purpose (so none of them passes by not looking)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rekap.tabulator.metrics import TabulatorMetrics
from tests.grafana import (
    BUILTIN,
    DASHBOARD,
    DEPLOY,
    load_dashboard,
    panels,
    provisioned_datasource_uids,
    used_variables,
    variable_query,
    variables,
)

REPO = DEPLOY.parent
GRID_WIDTH = 24
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # what Grafana accepts as a dashboard uid
METRIC = re.compile(r"\b(rekap_[a-z0-9_]+)\b")
Dashboard = dict[str, Any]


def exported_metrics() -> set[str]:
    """The sample names the tabulator's /metrics can show, whether or not a sample exists yet."""
    suffixes = {"counter": ["_total"], "info": ["_info"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {family.name + suffix for family in TabulatorMetrics().registry.collect()
            for suffix in suffixes[family.type]}  # fmt: skip


def texts(dashboard: Dashboard) -> list[str]:
    """Every text Grafana replaces variables in: queries, titles, legends, descriptions."""
    found = []
    for panel in panels(dashboard):
        found += [panel.get("title", ""), panel.get("description", "")]
        found += [t.get(key, "") for t in panel.get("targets", []) for key in ("expr", "legendFormat")]
    return found


def datasource_problems(where: str, datasource: Any, uids: set[str], datasource_variables: set[str]) -> list[str]:
    if isinstance(datasource, dict):
        uid = str(datasource.get("uid", ""))
        if datasource.get("type") != "prometheus" and not uid.startswith("$"):
            return [f"{where}: datasource of type {datasource.get('type')!r}, not prometheus"]
    elif isinstance(datasource, str):
        uid = datasource
    else:
        return [f"{where}: no datasource"]
    if uid in uids or (used_variables(uid) & datasource_variables and used_variables(uid) <= datasource_variables):
        return []
    return [f"{where}: datasource {uid!r} is neither the provisioned one {sorted(uids)} nor a datasource variable"]


def id_problems(dashboard: Dashboard) -> list[str]:
    ids = [panel.get("id") for panel in panels(dashboard)]
    return [f"panel id {i} is used {ids.count(i)} times" for i in sorted(set(ids), key=str) if ids.count(i) > 1]


def layout_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        name = f"panel {panel.get('id')} ({panel.get('title')!r})"
        if not str(panel.get("title", "")).strip():
            problems.append(f"{name}: no title")
        if not panel.get("type"):
            problems.append(f"{name}: no type")
        grid = panel.get("gridPos")
        if not isinstance(grid, dict) or not all(isinstance(grid.get(k), int) for k in "xywh"):
            problems.append(f"{name}: no gridPos with x, y, w, h")
            continue
        if grid["x"] < 0 or grid["y"] < 0 or grid["w"] < 1 or grid["h"] < 1 or grid["x"] + grid["w"] > GRID_WIDTH:
            problems.append(f"{name}: gridPos {grid} is outside the {GRID_WIDTH}-column grid")
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in cells and cells[(x, y)] != name:
                    problems.append(f"{name} overlaps {cells[(x, y)]}")
                cells[(x, y)] = name
    return sorted(set(problems))


def datasource_reference_problems(dashboard: Dashboard) -> list[str]:
    uids = provisioned_datasource_uids()
    chosen = {name for name, v in variables(dashboard).items() if v.get("type") == "datasource"}
    problems = []
    for panel in panels(dashboard):
        if panel.get("type") == "row":
            continue
        name = f"panel {panel.get('id')}"
        problems += datasource_problems(name, panel.get("datasource"), uids, chosen)
        for target in panel.get("targets", []):
            if "datasource" in target:  # a target without one uses its panel's
                problems += datasource_problems(f"{name} target {target.get('refId')}", target["datasource"], uids,
                                                chosen)  # fmt: skip
    for name, variable in variables(dashboard).items():
        if variable.get("type") == "query":
            problems += datasource_problems(f"variable {name}", variable.get("datasource"), uids, chosen)
    return problems


def variable_problems(dashboard: Dashboard) -> list[str]:
    defined = set(variables(dashboard))
    used = {name for text in texts(dashboard) for name in used_variables(text)}
    used |= {name for v in variables(dashboard).values() for name in used_variables(variable_query(v))}
    problems = [f"${name} is used but not defined in templating" for name in sorted(used - defined - set(BUILTIN))]
    problems += [f"variable {name} is defined but used nowhere" for name in sorted(defined - used)]
    return problems


def variable_query_problems(dashboard: Dashboard) -> list[str]:
    """A query saved as Grafana's editor saves it (an object) runs its `query`, and the editor shows its
    fields: the two must say the same."""
    problems = []
    for name, variable in variables(dashboard).items():
        query = variable.get("query")
        if variable.get("type") != "query" or not isinstance(query, dict):
            continue
        said = {1: f"label_values({query.get('metric')},{query.get('label')})",
                3: f"query_result({query.get('varQuery')})"}.get(query.get("qryType"))  # fmt: skip
        if said is None:
            problems.append(f"variable {name}: qryType {query.get('qryType')} is not one this test knows")
        elif query.get("query") != said or variable.get("definition") != said:
            problems.append(f"variable {name}: its query, definition and editor fields differ ({said})")
    return problems


def metric_problems(dashboard: Dashboard) -> list[str]:
    exported = exported_metrics()
    problems = []
    for name, variable in variables(dashboard).items():
        if variable.get("type") != "query":
            continue
        named = set(METRIC.findall(variable_query(variable)))
        if not named:
            problems.append(f"variable {name}: its query names no metric the tabulator exports")
        problems += [f"variable {name}: the tabulator exports no {m}" for m in sorted(named - exported)]
    for text in texts(dashboard):
        problems += [f"the tabulator exports no {m} (in {text[:60]!r})" for m in sorted(set(METRIC.findall(text)))
                     if m not in exported]  # fmt: skip
    return problems


def identity_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    if not isinstance(dashboard.get("schemaVersion"), int):
        problems.append("no schemaVersion")
    uid = str(dashboard.get("uid", ""))
    if not UID.match(uid):
        problems.append(f"uid {uid!r} is not one Grafana accepts")
    documents = "".join(p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])
    linked = set(re.findall(r"127\.0\.0\.1:3000/d/([\w-]+)", documents))
    if linked != {uid}:
        problems.append(f"the documents link to the dashboards {sorted(linked)}, not to its uid {uid!r}")
    return problems


def provisioning_problems(dashboard_file: Path) -> list[str]:
    """The provider's folder is where compose mounts the folder holding this dashboard (Grafana's service is
    in deploy/docker-compose.grafana.yml; its paths are relative to docker-compose.yml, the first file)."""
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "rekap.yml").read_text())
    folders = {p["options"]["path"] for p in provider["providers"]}
    compose = yaml.safe_load((DEPLOY / "docker-compose.grafana.yml").read_text())
    mounts = dict(str(m).split(":")[:2] for m in compose["services"]["grafana"]["volumes"])
    source = "./" + str(dashboard_file.parent.relative_to(REPO))
    if mounts.get(source) not in folders:
        return [f"{source} is mounted at {mounts.get(source)}, not where the provisioning reads ({sorted(folders)})"]
    return []


RULES: list[Callable[[Dashboard], list[str]]] = [
    id_problems, layout_problems, datasource_reference_problems, variable_problems, variable_query_problems,
    metric_problems, identity_problems,
]  # fmt: skip


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_dashboard_keeps_the_rule(rule: Callable[[Dashboard], list[str]]) -> None:
    assert rule(load_dashboard()) == []


def test_the_dashboard_is_where_the_provisioning_reads() -> None:
    assert provisioning_problems(DASHBOARD) == []
    assert provisioning_problems(DEPLOY / "prometheus" / "rules.yml") != [], "the check tells another folder"


def test_the_progress_panels_use_both_variables_and_show_names() -> None:
    """Issue 13: per kabupaten/kota by name, filtered by the contest and kabupaten/kota chosen."""
    dashboard = load_dashboard()
    assert set(variables(dashboard)) >= {"contest", "kabupaten_kota"}
    per_region = [t for p in panels(dashboard) for t in p.get("targets", []) if "by (kabupaten_kota)" in t["expr"]]
    assert per_region
    assert all(t["legendFormat"] == "{{name}}" and "rekap_region_info" in t["expr"] for t in per_region)
    assert all("$kabupaten_kota" in t["expr"] for t in per_region)
    assert any("$contest" in t["expr"] for t in per_region)


def break_one(path: str, value: Any) -> Callable[[Dashboard], None]:
    """Set the item at `path` (keys and indexes, dotted) to `value`; None deletes it."""

    def apply(dashboard: Dashboard) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        holder: Any = dashboard
        for part in parents:
            holder = holder[part]
        if value is None:
            del holder[last]
        else:
            holder[last] = value

    return apply


BREAKAGES = [
    (id_problems, break_one("panels.1.id", 1), "used 2 times"),
    (layout_problems, break_one("panels.0.gridPos", None), "no gridPos"),
    (layout_problems, break_one("panels.0.title", ""), "no title"),
    (layout_problems, break_one("panels.0.type", None), "no type"),
    (layout_problems, break_one("panels.0.gridPos.w", 30), "outside the 24-column grid"),
    (layout_problems, break_one("panels.1.gridPos", {"x": 0, "y": 0, "w": 4, "h": 4}), "overlaps"),
    (datasource_reference_problems, break_one("panels.0.datasource.uid", "grafana-cloud"), "neither the provisioned"),
    (datasource_reference_problems, break_one("panels.0.targets.0.datasource", "elsewhere"), "target A"),
    (datasource_reference_problems, break_one("panels.0.datasource", None), "no datasource"),
    (datasource_reference_problems, break_one("templating.list.0.datasource.uid", "nope"), "variable contest"),
    (variable_problems, break_one("panels.1.title", "TPS in ${province}"), "$province is used but not defined"),
    (
        variable_problems,
        break_one("panels.1.targets.0.expr", 'sum(rekap_tps_counted{x=~"[[kecamatan]]"})'),
        "$kecamatan is used but not defined",
    ),
    (variable_problems, break_one("templating.list.0.name", "contests"), "contests is defined but used nowhere"),
    (variable_query_problems, break_one("templating.list.0.query.label", "kabupaten_kota"), "fields differ"),
    (variable_query_problems, break_one("templating.list.1.query.query", "query_result(up)"), "fields differ"),
    (variable_query_problems, break_one("templating.list.1.query.qryType", 5), "not one this test knows"),
    (
        metric_problems,
        break_one("templating.list.0.query.query", "label_values(rekap_tps_expectd, contest)"),
        "exports no rekap_tps_expectd",
    ),
    (metric_problems, break_one("templating.list.0.query.query", "label_values(up, job)"), "names no metric"),
    (metric_problems, break_one("panels.1.targets.0.expr", "sum(rekap_tps_countd)"), "exports no rekap_tps_countd"),
    (identity_problems, break_one("schemaVersion", None), "no schemaVersion"),
    (identity_problems, break_one("uid", "rekap/election night"), "not one Grafana accepts"),
    (identity_problems, break_one("uid", "another-uid"), "the documents link"),
]


@pytest.mark.parametrize(("rule", "breakage", "complaint"), BREAKAGES,
                         ids=[f"{r.__name__}-{c}" for r, _, c in BREAKAGES])  # fmt: skip
def test_each_rule_catches_its_breakage(
    rule: Callable[[Dashboard], list[str]], breakage: Callable[[Dashboard], None], complaint: str
) -> None:
    broken = copy.deepcopy(load_dashboard())
    breakage(broken)
    assert any(complaint in problem for problem in rule(broken)), rule(broken)
