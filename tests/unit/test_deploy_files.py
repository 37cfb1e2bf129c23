"""Deployment files for containers: valid Compose in the deployment's shape (three brokers, a PostgreSQL
primary and its synchronous standby), every image built here from the repository, a scalable tabulator,
versions in step with the code, monitoring wired together (Prometheus scrapes every exporter compose runs
and sends its alerts to Alertmanager, whose configuration amtool accepts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rekap.config import KAFKA_VERSION
from tests.grafana import load_dashboard, queries
from tests.programs import debian_program

REPO = Path(__file__).resolve().parents[2]
BROKERS = ["kafka-1", "kafka-2", "kafka-3"]
DATABASES = ["postgres-1", "postgres-2"]
SERVERS = {*BROKERS, *DATABASES, "tabulator", "photos", "prometheus", "alertmanager", "postgres-exporter"}
LONG_RUNNING = SERVERS | {"site-builder", "site"}
ONE_SHOT = {"init"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def grafana() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "deploy/docker-compose.grafana.yml").read_text())
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
    assert set(services) == LONG_RUNNING | ONE_SHOT, "a new service is either a server or a one-shot step"
    assert {name for name in LONG_RUNNING if "healthcheck" not in services[name]} == set()
    assert {name for name in ONE_SHOT if services[name].get("restart") != "no"} == set()


def test_every_image_is_pinned(compose: dict[str, Any], grafana: dict[str, Any]) -> None:
    images = [s["image"] for f in (compose, grafana) for s in f["services"].values() if "image" in s]
    assert len(images) >= 7
    assert [i for i in images if ":" not in i.rsplit("/", 1)[-1] or i.endswith((":latest", ":main"))] == []


def test_every_image_is_built_here_on_the_base_it_is_given(compose: dict[str, Any]) -> None:
    """No image of docker-compose.yml comes from a registry: each is built from a file of the repository, on
    the base image REKAP_BASE_IMAGE names; deploy/podman/build-images.sh builds the same, under the same names."""
    script = (REPO / "deploy/podman/build-images.sh").read_text()
    for name, service in compose["services"].items():
        assert service["image"].startswith("localhost/"), name
        build = service["build"]
        assert build["args"]["BASE"] == "${REKAP_BASE_IMAGE:-debian:bookworm}", name
        containerfile = REPO / build["context"] / build.get("dockerfile", "Dockerfile")
        assert containerfile.is_file(), name
        assert "ARG BASE=debian:bookworm" in containerfile.read_text(), name
        image, tag = service["image"].removeprefix("localhost/").split(":")
        line = rf'^(IMAGES=")?{re.escape(image)} {re.escape(tag)} {re.escape(build["context"])} '
        assert re.search(line, script.replace("$KAFKA_VERSION", KAFKA_VERSION), re.MULTILINE), name


def test_the_tabulator_can_be_scaled(compose: dict[str, Any]) -> None:
    tabulator = compose["services"]["tabulator"]
    assert "container_name" not in tabulator, "a fixed name allows one replica only"
    assert "ports" not in tabulator, "a fixed host port allows one replica only"


def test_compose_has_no_default_password_and_publishes_no_server(compose: dict[str, Any]) -> None:
    """Every password is required (`${X:?...}`: compose refuses to start without it); Kafka and PostgreSQL
    are reached through the compose network only, the rest on loopback."""
    text = (REPO / "docker-compose.yml").read_text()
    passwords = set(re.findall(r"\$\{(\w*PASSWORD\w*)", text))
    assert len(passwords) >= 10
    assert [p for p in passwords if f"${{{p}:?" not in text or f"${{{p}:-" in text or f"${{{p}}}" in text] == []
    services = compose["services"]
    assert [name for name in BROKERS + DATABASES if "ports" in services[name]] == []
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
    for name in DATABASES:
        assert services[name]["environment"]["POSTGRES_USER"] == "postgres", "the superuser is init's alone"
    assert "REKAP_ADMIN_DATABASE_URL" not in tabulator
    assert "REKAP_OPERATOR_DATABASE_URL" not in tabulator, "a stolen tabulator config changes no master data"
    for name in BROKERS:
        assert "/deploy/kafka/start.sh" in services[name]["entrypoint"]


def test_the_compose_brokers_are_the_release_the_local_stack_runs(compose: dict[str, Any]) -> None:
    for name in BROKERS:
        broker = compose["services"][name]
        assert broker["image"] == f"localhost/rekap-kafka:{KAFKA_VERSION}"
        assert broker["build"]["args"]["KAFKA_VERSION"] == KAFKA_VERSION


def test_the_brokers_are_one_cluster_that_keeps_every_record_on_three(compose: dict[str, Any]) -> None:
    """Three KRaft nodes, each a voter of the same static quorum at its own name; internal topics and
    defaults at replication 3, min.insync.replicas 2; clients are told all three."""
    services = compose["services"]
    envs = [services[name]["environment"] for name in BROKERS]
    voters = f"1@{BROKERS[0]}:9093,2@{BROKERS[1]}:9093,3@{BROKERS[2]}:9093"
    assert [(e["KAFKA_NODE_ID"], e["KAFKA_ADVERTISED_HOST"]) for e in envs] == [("1", BROKERS[0]), ("2", BROKERS[1]),
                                                                                 ("3", BROKERS[2])]  # fmt: skip
    assert {e["KAFKA_CONTROLLER_VOTERS"] for e in envs} == {voters}
    assert {(e["KAFKA_REPLICATION_FACTOR"], e["KAFKA_MIN_INSYNC_REPLICAS"]) for e in envs} == {("3", "2")}
    assert len({e["KAFKA_EXTERNAL_PORT"] for e in envs}) == 3, "each advertises its own port to the host"
    assert len({v for name in BROKERS for v in services[name]["volumes"] if v.endswith(":/var/lib/kafka/data")}) == 3
    bootstrap = {f"{name}:19092" for name in BROKERS}
    assert set(services["tabulator"]["environment"]["REKAP_KAFKA_BOOTSTRAP"].split(",")) == bootstrap
    assert set(services["init"]["environment"]["REKAP_KAFKA_BOOTSTRAP"].split(",")) == bootstrap
    script = (REPO / "deploy/kafka/start.sh").read_text()
    assert "unclean.leader.election.enable=false\n" in script
    assert "min.insync.replicas=$MIN_ISR\n" in script


def test_postgres_is_a_primary_and_a_synchronous_standby_every_client_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    primary, standby = (services[name]["environment"] for name in DATABASES)
    assert "POSTGRES_STANDBY_OF" not in primary
    assert standby["POSTGRES_STANDBY_OF"] == DATABASES[0]
    assert standby["POSTGRES_NAME"] == DATABASES[1]
    assert f'"{DATABASES[1]}"' in primary["POSTGRES_SYNCHRONOUS_STANDBYS"], "a commit waits for the standby"
    both = f"?host={DATABASES[0]},{DATABASES[1]}&port=5432,5432&target_session_attrs=read-write"
    urls = [services["tabulator"]["environment"]["DATABASE_URL"],
            services["site-builder"]["environment"]["REKAP_OPERATOR_DATABASE_URL"],
            services["init"]["environment"]["REKAP_ADMIN_DATABASE_URL"],
            services["init"]["environment"]["REKAP_OWNER_DATABASE_URL"]]  # fmt: skip
    assert [url for url in urls if not url.endswith(both)] == []
    assert (REPO / "deploy/postgres/promote.sh").is_file()


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
    promtool = debian_program("promtool", package="prometheus")
    result = subprocess.run([promtool, "check", what, str(REPO / path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_is_provisioned_and_queries_prometheus(grafana: dict[str, Any]) -> None:
    dashboard = load_dashboard()
    assert dashboard["panels"]
    assert all(expr.strip() for expr in queries(dashboard))
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"prometheus"}
    mounts = grafana["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts


def scrape_targets(prometheus: dict[str, Any]) -> dict[str, list[str]]:
    return {job["job_name"]: [t for c in job.get("static_configs", []) for t in c["targets"]]
            for job in prometheus["scrape_configs"]}  # fmt: skip


def test_prometheus_scrapes_every_exporter_on_the_port_it_exposes(compose: dict[str, Any]) -> None:
    """Each broker's JMX agent and PostgreSQL's exporter: each static target is a compose service and a
    port that service exposes on the compose network (not published on the host)."""
    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    targets = scrape_targets(prometheus)
    assert targets["kafka"] == [f"{name}:9404" for name in BROKERS]
    assert targets["postgres"] == ["postgres-exporter:9187"]
    services = compose["services"]
    for target in targets["kafka"] + targets["postgres"]:
        host, port = target.split(":")
        assert port in services[host]["expose"]
        assert not any(str(p).endswith(f":{port}") for p in services[host].get("ports", []))
    assert {services[name]["environment"]["KAFKA_METRICS_PORT"] for name in BROKERS} == {"9404"}


def test_the_broker_s_metrics_agent_is_the_jar_its_image_fetches(compose: dict[str, Any]) -> None:
    """The image fetches the agent with deploy/kafka/fetch-metrics-agent.sh (checksum pinned) and puts it
    where KAFKA_METRICS_AGENT says."""
    agents = {compose["services"][name]["environment"]["KAFKA_METRICS_AGENT"] for name in BROKERS}
    assert len(agents) == 1
    agent = agents.pop()
    jar = agent.rsplit("/", 1)[1]
    script = (REPO / "deploy/kafka/fetch-metrics-agent.sh").read_text()
    assert f"AGENT_JAR={jar}\n" in script
    assert re.search(r"^SHA256=[0-9a-f]{64}$", script, re.MULTILINE), "the jar is checked against a pinned digest"
    containerfile = (REPO / "deploy/kafka/Containerfile").read_text()
    assert "sh fetch-metrics-agent.sh /opt/metrics-agent" in containerfile
    assert re.search(rf"^COPY --from=fetch \S+/{jar} {agent}$", containerfile, re.MULTILINE)


def test_the_postgres_exporter_logs_in_as_the_monitor_login_init_makes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    exporter = services["postgres-exporter"]["environment"]
    assert exporter["DATA_SOURCE_USER"] == "monitor"
    assert exporter["DATA_SOURCE_URI"].startswith(f"{DATABASES[0]}:5432/rekap?")
    init = " ".join(services["init"]["command"])
    assert "rekap db login set monitor --role monitor --password-env REKAP_MONITOR_DB_PASSWORD" in init
    assert services["init"]["environment"]["REKAP_MONITOR_DB_PASSWORD"] == exporter["DATA_SOURCE_PASS"]
    assert services["postgres-exporter"]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_prometheus_sends_its_alerts_to_alertmanager(compose: dict[str, Any]) -> None:
    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    managers = [t for m in prometheus["alerting"]["alertmanagers"] for c in m["static_configs"] for t in c["targets"]]
    assert managers == ["alertmanager:9093"]
    alertmanager = compose["services"]["alertmanager"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in alertmanager["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    assert "127.0.0.1:9093:9093" in alertmanager["ports"]


def test_alertmanager_routes_each_severity_the_rules_use_to_a_receiver_of_its_own() -> None:
    config = yaml.safe_load((REPO / "deploy/alertmanager/alertmanager.yml").read_text())
    rules = yaml.safe_load((REPO / "deploy/prometheus/rules.yml").read_text())
    severities = {rule["labels"]["severity"] for group in rules["groups"] for rule in group["rules"]}
    assert severities == {"critical", "warning"}
    routed = {m.split("=")[1].strip('"'): route["receiver"] for route in config["route"]["routes"]
              for m in route["matchers"] if m.startswith("severity=")}  # fmt: skip
    assert routed == {"critical": "critical", "warning": "warning"}
    assert {r["name"] for r in config["receivers"]} == set(routed.values())


def test_amtool_accepts_the_alertmanager_config() -> None:
    amtool = debian_program("amtool", package="prometheus-alertmanager")
    path = REPO / "deploy/alertmanager/alertmanager.yml"
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
