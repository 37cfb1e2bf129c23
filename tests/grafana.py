"""The Grafana dashboard as the tests read it: its panels (those inside rows too), its template variables,
the variables an expression uses, and an expression with them replaced as Grafana replaces them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "rekap.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
# $var, ${var}, ${var:format}, [[var]]: the ways Grafana lets a text name a variable.
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
# Grafana's own, defined without templating: what the real-Prometheus test replaces them with.
BUILTIN = {"__interval": "1m", "__rate_interval": "1m", "__range": "1h"}


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those that rows hold included (a collapsed row keeps its own in `panels`)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panels(panel)


def targets(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in panels(dashboard):
        yield from panel.get("targets", [])


def queries(dashboard: Mapping[str, Any]) -> list[str]:
    return [target["expr"] for target in targets(dashboard)]


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard.get("templating", {}).get("list", [])}


def variable_query(variable: Mapping[str, Any]) -> str:
    """A query variable's query: a string, or (as Grafana 10+ saves it) an object holding one."""
    query = variable.get("query", "")
    return str(query.get("query", "") if isinstance(query, dict) else query)


def used_variables(text: str) -> set[str]:
    return {next(name for name in match.groups() if name) for match in VARIABLE.finditer(text)}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """`expr` with each variable replaced by its value in `values` (Grafana's built-ins by BUILTIN's)."""
    every = {**BUILTIN, **values}
    return VARIABLE.sub(lambda match: every[next(name for name in match.groups() if name)], expr)


def provisioned_datasource_uids() -> set[str]:
    provisioned = yaml.safe_load(DATASOURCES.read_text())
    return {source["uid"] for source in provisioned["datasources"]}
