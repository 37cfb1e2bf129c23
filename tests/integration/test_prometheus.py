"""A real Prometheus (Debian's package) scrapes a tabulator during an election: every dashboard query
returns data, every alert rule evaluates, and Prometheus counts what the database holds."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from rekap.bootstrap import tabulator_service
from rekap.devstack.process import free_port, wait_until
from tests.integration.election import (
    plan_election,
    publish,
    register_all_terminals,
    sample_tps,
    settings_for,
    wait_applied,
)
from tests.servers import BrokerAccess

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class Prometheus:
    def __init__(self, folder: Path, target: str) -> None:
        self.port = free_port()
        shutil.copy(DEPLOY / "prometheus" / "rules.yml", folder / "rules.yml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [{"job_name": "rekap-tabulator", "static_configs": [{"targets": [target]}]}],
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

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(30)
        self._log.close()


@pytest.fixture
def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus package is not installed (apt-get install prometheus; .ci/run does it)")
    return binary


@pytest.fixture
def prometheus_factory(prometheus_binary: str, tmp_path: Path) -> Iterator[list[Prometheus]]:
    started: list[Prometheus] = []
    yield started
    for server in started:
        server.stop()


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "rekap.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


async def test_prometheus_sees_what_the_database_holds(
    kafka: BrokerAccess, election_database_url: str, topic: str, prometheus_factory: list[Prometheus],
    tmp_path: Path,
) -> None:  # fmt: skip
    conn = await asyncpg.connect(election_database_url)
    try:
        tps = sample_tps(300)
        planned, _ = plan_election(tps, seed=9)
        await register_all_terminals(conn, tps)
        stop = asyncio.Event()
        async with tabulator_service(settings_for(kafka, election_database_url, topic), stop) as tabulator:
            running = asyncio.create_task(tabulator.run(stop))
            assert tabulator.metrics_address is not None
            prometheus = await asyncio.to_thread(Prometheus, tmp_path, tabulator.metrics_address)
            prometheus_factory.append(prometheus)
            half = len(planned) // 2
            ends = await publish(kafka.terminals, topic, planned[:half])
            await asyncio.sleep(3)  # a few scrapes during the count
            more = await publish(kafka.terminals, topic, planned[half:])
            ends = {p: max(ends.get(p, 0), more.get(p, 0)) for p in ends.keys() | more.keys()}
            await wait_applied(election_database_url, topic, ends, watch=running)
            await asyncio.sleep(4)  # progress gauges (0.5 s) and a few scrapes and rule evaluations (1 s)
            results = {expr: await asyncio.to_thread(prometheus.query, expr) for expr in dashboard_queries()}
            alerts = {rule["alert"]: await asyncio.to_thread(prometheus.query, rule["expr"]) for rule in alert_rules()}
            accepted = await asyncio.to_thread(prometheus.query, 'sum(rekap_records_total{outcome="accepted"})')
            rules = json.loads(await asyncio.to_thread(prometheus.get, "/api/v1/rules"))
            stop.set()
            await running
        in_database = await conn.fetchval(
            "SELECT count(*) FROM rekap.record WHERE topic = $1 AND outcome = 'accepted'", topic
        )
    finally:
        await conn.close()

    empty = [expr for expr, answer in results.items() if answer["status"] != "success" or not answer["data"]["result"]]
    assert empty == [], "every dashboard panel must show data"
    failing = [name for name, answer in alerts.items() if answer["status"] != "success"]
    assert failing == [], "every alert expression must evaluate"
    evaluated = [r for group in rules["data"]["groups"] for r in group["rules"]]
    assert len(evaluated) == len(alert_rules())
    assert all(r["health"] == "ok" for r in evaluated), [(r["name"], r.get("lastError")) for r in evaluated]
    assert float(accepted["data"]["result"][0]["value"][1]) == in_database
