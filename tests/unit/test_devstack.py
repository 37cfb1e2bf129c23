"""Pure parts of the local stack: Java version parsing, cluster ids, the broker's config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rekap.devstack.kafka import LocalKafka, java_major_version, new_cluster_id
from rekap.devstack.process import DetachedProcess
from rekap.errors import StackError


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("no java here", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert java_major_version(output) == major


def test_cluster_ids_have_the_kraft_shape() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", i) for i in ids)


def broker(tmp_path: Path, port: int = 19092) -> LocalKafka:
    return LocalKafka(version="4.3.1", cache_dir=tmp_path / "cache", state_dir=tmp_path, port=port,
                      controller_port=19093, broker_password="b-secret", admin_password="a-secret")  # fmt: skip


def test_broker_config_listens_on_loopback_only_and_authenticates_everyone(tmp_path: Path) -> None:
    kafka = broker(tmp_path)
    kafka._write_config()
    text = kafka.config_file.read_text().replace("\\\n", "")
    config = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert config["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert set(config["listener.security.protocol.map"].split(",")) == {
        "CONTROLLER:SASL_PLAINTEXT",
        "SASL_PLAINTEXT:SASL_PLAINTEXT",
    }, "no listener lets a client in without a password"
    assert config["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert config["allow.everyone.if.no.acl.found"] == "false"
    assert config["super.users"] == "User:broker;User:admin"
    assert "a-secret" not in text, "the admin's password is in the cluster's metadata, not in a file"
    assert kafka.config_file.stat().st_mode & 0o077 == 0, "the file with the broker's password is its owner's"
    assert config["offsets.topic.replication.factor"] == "1"
    assert config["log.dirs"] == str(tmp_path / "data")
    assert config["auto.create.topics.enable"] == "false"


def test_ports_cannot_change_after_format(tmp_path: Path) -> None:
    broker(tmp_path)._write_config()
    with pytest.raises(StackError, match="rekap stack reset"):
        broker(tmp_path, port=29092)._check_ports_unchanged()


def test_a_stale_pidfile_is_not_a_running_process(tmp_path: Path) -> None:
    process = DetachedProcess("x", tmp_path / "x.pid", tmp_path / "x.log", marker="no-such-marker")
    process.pidfile.write_text("1\n")  # pid 1 exists, but is not ours
    assert process.pid() is None
    assert process.stop() is False
    assert not process.pidfile.exists()
