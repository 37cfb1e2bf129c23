"""A real Prometheus (Debian's package) scrapes what docker compose's scrapes, during an election: a tabulator,
the broker as compose runs it (deploy/kafka/start.sh with the Prometheus JMX exporter's Java agent, fetched
as compose fetches it) and PostgreSQL's exporter (Debian's package) logged in as a monitor login. Every
dashboard query returns data, with the template variables set to all and to a real value; every variable
query finds values; every alert rule evaluates; every kabupaten/kota shows by name, at 0, before anything
is counted; and Prometheus counts what the database holds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from rekap.access import KafkaAccess
from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.roles import set_login
from rekap.app.logins import Group
from rekap.bootstrap import photo_service, tabulator_service
from rekap.config import KAFKA_VERSION
from rekap.devstack.process import free_port, wait_until
from tests.conftest import jar_cache
from tests.grafana import DEPLOY, load_dashboard, queries, substitute, variable_query, variables
from tests.integration.election import (
    plan_election,
    publish,
    register_all_terminals,
    sample_tps,
    settings_for,
    wait_applied,
)
from tests.integration.test_compose_broker import answers
from tests.programs import debian_program
from tests.servers import BrokerAccess, login_url

POSTGRES_EXPORTERS = ("prometheus-postgres-exporter", "postgres_exporter")  # Debian's name, upstream's
GOVERNOR_PANEL = 1  # "Governor race: TPS counted per kabupaten/kota (%)"


class Prometheus:
    def __init__(self, folder: Path, targets: dict[str, str]) -> None:
        """Scrapes deploy/prometheus/prometheus.yml's jobs, each at the address `targets` gives it (compose
        finds them by DNS on its network; here they listen on loopback), every second."""
        self.port = free_port()
        shutil.copy(DEPLOY / "prometheus" / "rules.yml", folder / "rules.yml")
        deployed = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        jobs = [job["job_name"] for job in deployed["scrape_configs"]]
        assert sorted(jobs) == sorted(targets), "the test scrapes every job compose's Prometheus scrapes"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [targets[job]]}]} for job in jobs],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = (folder / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            ["prometheus", f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        if not wait_until(self._ready, 30):
            self.stop()
            raise AssertionError(f"Prometheus did not start: {(folder / 'prometheus.log').read_text()[-2000:]}")

    def _ready(self) -> bool:
        try:
            return self.get("/-/ready").startswith("Prometheus")
        except OSError:
            return False

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            return str(response.read().decode())

    def query(self, expr: str) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        return answer

    def series(self, expr: str) -> list[dict[str, Any]]:
        answer = self.query(expr)
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def label_values(self, label: str, metric: str) -> list[str]:
        path = f"/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": metric})
        values: list[str] = json.loads(self.get(path))["data"]
        return values

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(30)
        self._log.close()


class Server:
    """A process of this test's, stopped with its process group."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self._process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)  # fmt: skip

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=60)


@pytest.fixture
def prometheus_binary() -> str:
    return debian_program("prometheus", package="prometheus")


@pytest.fixture
def postgres_exporter_binary() -> str:
    return debian_program(*POSTGRES_EXPORTERS, package="prometheus-postgres-exporter")


@pytest.fixture
def metrics_agent(kafka: BrokerAccess) -> Path:
    """The broker's Java agent, fetched by compose's own script (with Maven, checksum checked) into the jar
    cache once (`kafka` first: the broker's jars are then in the cache too)."""
    assert kafka
    if shutil.which("mvn") is None:
        pytest.skip("Maven (mvn) fetches the JMX exporter's agent, as it fetches the broker (apt-get install maven)")
    folder = jar_cache() / "metrics-agent"
    done = subprocess.run(["/bin/sh", str(DEPLOY / "kafka" / "fetch-metrics-agent.sh"), str(folder)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "jmx_prometheus_javaagent.jar"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in reversed(started):
        server.stop()


@pytest.fixture
def prometheus_factory(prometheus_binary: str) -> Iterator[list[Prometheus]]:
    assert prometheus_binary
    started: list[Prometheus] = []
    yield started
    for server in started:
        server.stop()


def start_compose_broker(servers: list[Server], folder: Path, agent: Path) -> tuple[BrokerAccess, int]:
    """docker-compose.yml's broker (its start script, its metrics agent and configuration) on loopback;
    returns its access as the admin and the port of its metrics."""
    port, metrics_port, admin_password = free_port(), free_port(), secrets.token_urlsafe(12)
    env = {
        "PATH": os.environ["PATH"], "KAFKA_HOME": str(jar_cache() / f"kafka-{KAFKA_VERSION}"),
        "KAFKA_DATA": str(folder / "data"), "KAFKA_CONFIG": str(folder / "server.properties"),
        "KAFKA_BIND": "127.0.0.1", "KAFKA_ADVERTISED_HOST": "127.0.0.1", "KAFKA_INTERNAL_PORT": str(port),
        "KAFKA_EXTERNAL_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_BROKER_PASSWORD": secrets.token_urlsafe(12), "KAFKA_ADMIN_PASSWORD": admin_password,
        "KAFKA_METRICS_AGENT": str(agent), "KAFKA_METRICS_PORT": str(metrics_port),
    }  # fmt: skip
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    folder.mkdir()
    servers.append(Server(["/bin/sh", str(DEPLOY / "kafka" / "start.sh")], env, folder / "broker.log"))
    return BrokerAccess(KafkaAccess(f"127.0.0.1:{port}", "admin", admin_password)), metrics_port


@pytest.fixture
async def monitor_login(election_database_url: str) -> AsyncIterator[tuple[str, str]]:
    """A login in role monitor (as compose's `init` makes one for the exporter): (name, password)."""
    name, password = f"monitor_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    owner = await pg.connect(login_url(election_database_url, "owner"))
    try:
        await set_login(owner, name, Group.MONITOR, password)
        yield name, password
    finally:
        await owner.execute(f'DROP ROLE IF EXISTS "{name}"')
        await owner.close()


def postgres_exporter(binary: str, servers: list[Server], database_url: str, login: tuple[str, str],
                      log: Path) -> int:  # fmt: skip
    """Debian's exporter, configured as compose's (DATA_SOURCE_URI, _USER, _PASS), on the test's database."""
    port, parts = free_port(), urlsplit(database_url)
    env = {"PATH": os.environ["PATH"], "DATA_SOURCE_URI": f"{parts.hostname}:{parts.port}{parts.path}?sslmode=disable",
           "DATA_SOURCE_USER": login[0], "DATA_SOURCE_PASS": login[1]}  # fmt: skip
    servers.append(Server([binary, f"--web.listen-address=127.0.0.1:{port}"], env, log))
    return port


def variable_values(prometheus: Prometheus, variable: dict[str, Any]) -> list[str]:
    """What Grafana offers for a query variable: label_values(metric, label), or query_result(expr) read
    through the variable's regex (its named group `value`), as Grafana's Prometheus datasource does: it
    makes each series a line `name{label="value",...} VALUE TIMESTAMP_MS` for the regex to read."""
    query = variable_query(variable)
    if match := re.fullmatch(r"label_values\((\w+), *(\w+)\)", query):
        return prometheus.label_values(match[2], match[1])
    match = re.fullmatch(r"query_result\((.+)\)", query)
    assert match, f"variable {variable['name']}: a query this test does not know ({query})"
    lines = [
        s["metric"].get("__name__", "")
        + "{" + ",".join(f'{k}="{v}"' for k, v in s["metric"].items() if k != "__name__") + "}"
        + f" {s['value'][1]} {int(s['value'][0] * 1000)}"
        for s in prometheus.series(match[1])
    ]  # fmt: skip
    regex = re.compile(variable["regex"].strip("/").replace("(?<", "(?P<"))
    return sorted({m["value"] for line in lines if (m := regex.search(line))})


def empty(prometheus: Prometheus, exprs: list[str]) -> list[str]:
    return [expr for expr in exprs if not prometheus.series(expr)]


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


async def test_prometheus_sees_what_the_database_holds(
    kafka: BrokerAccess,
    election_database_url: str,
    metrics_agent: Path,
    postgres_exporter_binary: str,
    monitor_login: tuple[str, str],
    servers: list[Server],
    prometheus_factory: list[Prometheus],
    tmp_path: Path,
) -> None:  # servers after the login: they stop before it is dropped
    broker, broker_metrics = await asyncio.to_thread(start_compose_broker, servers, tmp_path / "broker", metrics_agent)
    await answers(broker.admin)
    await asyncio.to_thread(broker.set_users)  # this run's users, with their ACLs
    topic = f"test-{uuid.uuid4().hex[:12]}"
    await broker.new_topic(topic)
    exporter = postgres_exporter(postgres_exporter_binary, servers, election_database_url, monitor_login,
                                 tmp_path / "postgres-exporter.log")  # fmt: skip
    dashboard = load_dashboard()
    governor = next(p for p in dashboard["panels"] if p["id"] == GOVERNOR_PANEL)["targets"][0]["expr"]
    every_value = dict.fromkeys(variables(dashboard), ".*")  # "All", as the variables' allValue
    conn = await pg.connect(election_database_url)
    try:
        regions = await conn.fetchval("SELECT count(*) FROM rekap.kabupaten_kota")
        tps = sample_tps(300)
        planned, _ = plan_election(tps, seed=9)
        await register_all_terminals(conn, tps)
        stop = asyncio.Event()
        settings = settings_for(broker, election_database_url, topic)
        async with tabulator_service(settings, stop) as tabulator, photo_service(settings, stop) as photos:
            running = asyncio.create_task(tabulator.run(stop))
            photos_running = asyncio.create_task(photos.run(stop))
            assert tabulator.metrics_address is not None
            assert photos.metrics_address is not None
            targets = {"rekap-tabulator": tabulator.metrics_address, "kafka": f"127.0.0.1:{broker_metrics}",
                       "postgres": f"127.0.0.1:{exporter}", "rekap-photos": photos.metrics_address}  # fmt: skip
            prometheus = await asyncio.to_thread(Prometheus, tmp_path, targets)
            prometheus_factory.append(prometheus)

            # Before any form: every kabupaten/kota on the governor's panel, by name, at 0.
            def all_regions_shown() -> bool:
                return len(prometheus.series(substitute(governor, every_value))) == regions

            assert await asyncio.to_thread(wait_until, all_regions_shown, 60), "the regions never showed"
            before = prometheus.series(substitute(governor, every_value))
            half = len(planned) // 2
            ends = await publish(broker.terminals, topic, planned[:half])
            await asyncio.sleep(3)  # a few scrapes during the count
            more = await publish(broker.terminals, topic, planned[half:])
            ends = {p: max(ends.get(p, 0), more.get(p, 0)) for p in ends.keys() | more.keys()}
            await wait_applied(election_database_url, topic, ends, watch=running)
            await asyncio.sleep(4)  # progress gauges (0.5 s) and a few scrapes and rule evaluations (1 s)
            offered = {name: await asyncio.to_thread(variable_values, prometheus, v)
                       for name, v in variables(dashboard).items()}  # fmt: skip
            one_value = {name: values[0] for name, values in offered.items() if values}
            all_empty = await asyncio.to_thread(
                empty, prometheus, [substitute(q, every_value) for q in queries(dashboard)]
            )
            one_empty = await asyncio.to_thread(
                empty, prometheus, [substitute(q, one_value) for q in queries(dashboard)]
            )
            alerts = {rule["alert"]: await asyncio.to_thread(prometheus.query, rule["expr"]) for rule in alert_rules()}
            accepted = await asyncio.to_thread(prometheus.query, 'sum(rekap_records_total{outcome="accepted"})')
            health = {expr: await asyncio.to_thread(prometheus.series, expr)
                      for expr in ("max(kafka_server_broker_state)", "max(pg_up)", 'count(up == 1)')}  # fmt: skip
            rules = json.loads(await asyncio.to_thread(prometheus.get, "/api/v1/rules"))
            stop.set()
            await running
            await photos_running
        in_database = await conn.fetchval(
            "SELECT count(*) FROM rekap.record WHERE topic = $1 AND outcome = 'accepted'", topic
        )
        names = {r["code"]: r["name"] for r in await conn.fetch(
            "SELECT code, initcap(kind) || ' ' || name AS name FROM rekap.kabupaten_kota")}  # fmt: skip
    finally:
        await conn.close()

    assert {s["metric"]["name"] for s in before} == set(names.values()), "by name, each of them"
    assert {float(s["value"][1]) for s in before} == {0.0}
    assert offered["kabupaten_kota"] == sorted(names), "the kabupaten/kota variable offers every code"
    assert "pkwkp-16" in offered["contest"]
    assert all(offered.values()), offered
    assert all_empty == [], "every dashboard panel must show data, every variable at All"
    assert one_empty == [], f"every dashboard panel must show data with {one_value}"
    failing = [name for name, answer in alerts.items() if answer["status"] != "success"]
    assert failing == [], "every alert expression must evaluate"
    evaluated = [r for group in rules["data"]["groups"] for r in group["rules"]]
    assert len(evaluated) == len(alert_rules())
    assert all(r["health"] == "ok" for r in evaluated), [(r["name"], r.get("lastError")) for r in evaluated]
    assert [r["name"] for r in evaluated if r["state"] == "firing"] == [], "a healthy night fires no alert"
    assert float(health["max(kafka_server_broker_state)"][0]["value"][1]) == 3, "the broker runs"
    assert float(health["max(pg_up)"][0]["value"][1]) == 1, "the monitor login connects"
    assert float(health["count(up == 1)"][0]["value"][1]) == 4, (
        "the tabulator, the photo consumer, the broker and the exporter"
    )
    assert float(accepted["data"]["result"][0]["value"][1]) == in_database
