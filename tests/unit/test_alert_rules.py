"""Alert rules fed made-up series, with promtool's rule tests: each fires when it must and only then.
(Every rule is also evaluated against real servers in tests/integration/test_prometheus.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.programs import debian_program

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
STANDBY_DOWN = {
    "severity": "critical",
}
STANDBY_DOWN_ANNOTATIONS = {
    "runbook_url": "docs/runbook.md#rekapstandbydown",
    "summary": "PostgreSQL's standby no longer streams from the primary",
    "description": "Commits wait for the synchronous standby: no batch commits until it is back or replaced.",
}


def promtool_test(tmp_path: Path, tests: list[dict[str, object]]) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "rules.test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "15s", "tests": tests}))
    promtool = debian_program("promtool", package="prometheus")
    return subprocess.run([promtool, "test", "rules", str(spec)], capture_output=True, text=True, check=False)


def test_a_standby_that_stops_streaming_is_an_alarm_one_never_made_is_not(tmp_path: Path) -> None:
    streaming = 'pg_stat_replication_pg_wal_lsn_diff{application_name="rekap_standby",state="streaming"}'
    fired = [{"exp_labels": STANDBY_DOWN, "exp_annotations": STANDBY_DOWN_ANNOTATIONS}]
    result = promtool_test(tmp_path, [
        {   # streaming for 5 minutes, then gone (the primary up all along)
            "interval": "15s",
            "input_series": [{"series": "pg_up", "values": "1x80"}, {"series": streaming, "values": "0x20 stale"}],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "RekapStandbyDown", "exp_alerts": []},
                {"eval_time": "7m", "alertname": "RekapStandbyDown", "exp_alerts": fired},
            ],
        },
        {   # a primary alone, never with a standby: nothing to say
            "interval": "15s",
            "input_series": [{"series": "pg_up", "values": "1x80"}],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "RekapStandbyDown", "exp_alerts": []}],
        },
        {   # the primary itself down: RekapPostgresDown says so, not this
            "interval": "15s",
            "input_series": [{"series": "pg_up", "values": "1x20 0x60"}, {"series": streaming, "values": "0x20 stale"}],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "RekapStandbyDown", "exp_alerts": []}],
        },
    ])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
