"""Deployment files for Docker users: valid Compose, a scalable tabulator, versions in step with the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rekap.config import KAFKA_VERSION

REPO = Path(__file__).resolve().parents[2]
LONG_RUNNING = {"kafka", "postgres", "tabulator", "prometheus", "grafana"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(REPO / "docker-compose.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_server_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= LONG_RUNNING
    assert {name for name in LONG_RUNNING if "healthcheck" not in services[name]} == set()


def test_the_tabulator_can_be_scaled(compose: dict[str, Any]) -> None:
    tabulator = compose["services"]["tabulator"]
    assert "container_name" not in tabulator, "a fixed name allows one replica only"
    assert "ports" not in tabulator, "a fixed host port allows one replica only"


def test_compose_has_no_default_password_and_publishes_no_server(compose: dict[str, Any]) -> None:
    """Every password is required (`${X:?...}`: compose refuses to start without it); Kafka and PostgreSQL
    are reached through the compose network only, the rest on loopback."""
    text = (REPO / "docker-compose.yml").read_text()
    passwords = set(re.findall(r"\$\{(\w*PASSWORD\w*)", text))
    assert len(passwords) >= 9
    assert [p for p in passwords if f"${{{p}:?" not in text or f"${{{p}:-" in text or f"${{{p}}}" in text] == []
    services = compose["services"]
    assert "ports" not in services["kafka"]
    assert "ports" not in services["postgres"]
    published = [port for s in services.values() for port in s.get("ports", [])]
    assert published
    assert all(str(port).startswith("127.0.0.1:") for port in published)
    override = yaml.safe_load((REPO / "deploy/docker-compose.ports.yml").read_text())
    assert all(str(port).startswith("127.0.0.1:") for s in override["services"].values() for port in s["ports"])


def test_compose_services_connect_as_their_own_roles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    tabulator = services["tabulator"]["environment"]
    assert tabulator["DATABASE_URL"].startswith("postgresql://tabulator:")
    assert tabulator["REKAP_KAFKA_USERNAME"] == "tabulator"
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "postgres", "the superuser is init's alone"
    assert "REKAP_ADMIN_DATABASE_URL" not in tabulator
    assert "REKAP_OPERATOR_DATABASE_URL" not in tabulator, "a stolen tabulator config changes no master data"
    assert "/deploy/kafka/start.sh" in services["kafka"]["entrypoint"]


def test_the_compose_broker_is_the_release_the_local_stack_runs(compose: dict[str, Any]) -> None:
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_prometheus_scrapes_the_port_the_tabulator_exposes(compose: dict[str, Any]) -> None:
    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    discovery = jobs["rekap-tabulator"]["dns_sd_configs"][0]
    assert discovery["names"] == ["tabulator"]
    assert str(discovery["port"]) in compose["services"]["tabulator"]["expose"]


@pytest.mark.parametrize(
    ("what", "path"),
    [("rules", "deploy/prometheus/rules.yml"), ("config", "deploy/prometheus/prometheus.yml")],
)
def test_promtool_accepts_the_prometheus_files(what: str, path: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool comes with Debian's prometheus package (apt-get install prometheus; .ci/run does it)")
    result = subprocess.run([promtool, "check", what, str(REPO / path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_is_provisioned_and_queries_prometheus(compose: dict[str, Any]) -> None:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/rekap.json").read_text())
    assert dashboard["panels"]
    assert all(t["expr"].strip() for p in dashboard["panels"] for t in p["targets"])
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"prometheus"}
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
