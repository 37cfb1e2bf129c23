"""Pure parts of the local stack: Java version parsing, cluster ids, the broker's config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rekap.devstack.kafka import LocalKafka, java_major_version, new_cluster_id
from rekap.devstack.process import DetachedProcess
from rekap.devstack.secrets import StackServers
from rekap.devstack.shape import StackShape, broker_ports
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


def cluster_node(tmp_path: Path, node_id: int) -> LocalKafka:
    voters = ((1, 19093), (2, 19103), (3, 19113))
    return LocalKafka(version="4.3.1", cache_dir=tmp_path / "cache", state_dir=tmp_path / f"kafka-{node_id}",
                      port=19082 + 10 * node_id, controller_port=voters[node_id - 1][1], broker_password="b",
                      admin_password="a", node_id=node_id, voters=voters)  # fmt: skip


def config_of(kafka: LocalKafka) -> dict[str, str]:
    kafka.state_dir.mkdir(parents=True, exist_ok=True)
    kafka._write_config()
    text = kafka.config_file.read_text().replace("\\\n", "")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_a_cluster_node_names_the_quorum_and_keeps_three_copies_two_in_sync(tmp_path: Path) -> None:
    config = config_of(cluster_node(tmp_path, 2))
    assert config["node.id"] == "2"
    # A dynamic quorum (KIP-853): a node that lost its disk replaces its old self instead of voting as it.
    assert config["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093,127.0.0.1:19103,127.0.0.1:19113"
    assert config["controller.quorum.auto.join.enable"] == "true"
    assert "controller.quorum.voters" not in config
    assert config["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19102,CONTROLLER://127.0.0.1:19103"
    assert (config["default.replication.factor"], config["min.insync.replicas"]) == ("3", "2")
    assert config["offsets.topic.replication.factor"] == "3", "the group's offsets survive a broker too"
    assert config["unclean.leader.election.enable"] == "false", "no replica that fell behind becomes leader"
    assert cluster_node(tmp_path, 2).name == "kafka-2"


def test_a_cluster_node_made_with_a_fixed_quorum_is_refused(tmp_path: Path) -> None:
    node = cluster_node(tmp_path, 1)
    config_of(node)
    node.config_file.write_text(node.config_file.read_text() + "controller.quorum.voters=1@127.0.0.1:19093\n")
    with pytest.raises(StackError, match="fixed quorum"):
        node._check_ports_unchanged()


def test_a_node_alone_is_its_own_quorum(tmp_path: Path) -> None:
    config = config_of(broker(tmp_path))
    assert config["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert "controller.quorum.voters" not in config
    assert broker(tmp_path).name == "kafka"


def test_a_cluster_node_without_data_is_not_formatted_as_a_cluster_of_its_own(tmp_path: Path) -> None:
    node = cluster_node(tmp_path, 3)
    (node.libs_dir).mkdir(parents=True)
    (node.libs_dir / ".complete").write_text("4.3.1\n")
    with pytest.raises(StackError, match="cluster's id"):
        node.start()


def test_the_shape_of_a_stack_and_its_failover(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="1 broker, or a cluster of 3"):
        StackShape.wanted(2, standby=False)
    shape = StackShape.wanted(3, standby=True)
    assert (shape.primary, shape.standby) == ("postgres", "postgres-2")
    shape.save(tmp_path)
    assert StackShape.load(tmp_path) == shape
    promoted = shape.promoted()
    assert (promoted.primary, promoted.standby, promoted.spare) == ("postgres-2", None, "postgres")
    again = promoted.with_standby()
    assert (again.primary, again.standby) == ("postgres-2", "postgres")
    with pytest.raises(StackError, match="no standby"):
        StackShape.wanted(1, standby=False).promoted()
    assert broker_ports(9092, 9093, 3) == [(9092, 9093), (9102, 9103), (9112, 9113)]


def test_the_stack_s_urls_name_every_broker_and_both_servers_primary_first(tmp_path: Path) -> None:
    servers = StackServers(tmp_path, 5432, 9092, 9093)
    assert servers.bootstrap_servers == "127.0.0.1:9092"
    assert servers.postgres_url("tabulator") == "postgresql://tabulator@127.0.0.1:5432/rekap"
    StackShape.wanted(3, standby=True).promoted().save(tmp_path)
    assert servers.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9102,127.0.0.1:9112"
    assert servers.postgres_url("tabulator") == (
        "postgresql://tabulator@127.0.0.1:5433,127.0.0.1:5432/rekap?target_session_attrs=read-write"
    )
    assert servers.postgres_url("reader").endswith("/rekap?target_session_attrs=prefer-standby")
