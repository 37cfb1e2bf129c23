"""A real Apache Kafka broker (KRaft), assembled from Maven Central jars, run on loopback: one node alone,
or one node of a cluster of three (each a broker and a controller: the controllers' quorum survives the
loss of one, and so does every topic, replicated three times with two in sync).

The jars are fetched once with Maven into a cache; each node is formatted once and keeps its data between
stops (docs/operators.md, "The local stack", says why it is built this way).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rekap.devstack.process import DetachedProcess, answers, wait_until
from rekap.errors import StackError

MIN_JAVA = 17
LOG4J_VERSION = "2.25.4"
SLF4J_VERSION = "1.7.36"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
NO_DOCKER_HINT = "Or run the whole stack in containers instead: docker compose up (see docs/operators.md)."

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rekap.devstack</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <!-- the release tarball adds the SLF4J 1.x binding itself; without it the broker logs nothing -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""

LOG4J2_PROPERTIES = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""

# One combined broker + controller, sized for a 2-core machine (each node of a cluster is one).
# Every connection authenticates: clients with SCRAM-SHA-512 (users in the cluster's metadata; the broker's
# own and the admin's are written at format time, the others by `rekap kafka user set`), the broker to its
# controller with PLAIN (a static user: the controller must check it before any metadata exists). Every
# request is authorised by ACLs; `broker` and `admin` are super users, nobody else is anything by default.
SERVER_PROPERTIES = """process.roles=broker,controller
node.id={node_id}
{quorum}
listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
inter.broker.listener.name=SASL_PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=\
  org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="{broker_password}";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
  username="broker" password="{broker_password}" user_broker="{broker_password}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:broker;User:admin
allow.everyone.if.no.acl.found=false
log.dirs={data_dir}
log.retention.ms=-1
log.retention.bytes=-1
auto.create.topics.enable=false
{replication}offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=2097152
num.network.threads=1
num.io.threads=2
background.threads=2
"""

# Alone, a node's topics have one copy. In a cluster every topic has three, and a write is acknowledged once
# two hold it (acks=all): a node lost, even with its disk, loses no acknowledged record; a replica that fell
# behind never becomes leader (unclean election off), so nothing acknowledged is truncated away. A node that
# stops answering is fenced after 6 s and dropped from the in-sync replicas after 10 s (Kafka's defaults: 9
# and 30 s), so that writes wait for it that long at most (measured: loadtests/chaos_cluster.py).
ALONE = """offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
"""
IN_A_CLUSTER = """default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
replica.lag.time.max.ms=10000
broker.session.timeout.ms=6000
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
"""

JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")


@dataclass(frozen=True)
class LocalKafka:
    """One local node: its jars (shared cache), its state folder (config, data, logs, pid), and the
    passwords of its own principal and of the admin (set when it is formatted). Alone (`voters` empty) it is
    its own quorum; in a cluster `voters` names every node's controller, node id -> controller port.

    A cluster's quorum is dynamic (KRaft's KIP-853): formatted with every controller's node id, address and
    metadata folder's directory id; a node whose disk was lost is formatted anew without them and, starting,
    replaces its old self in the quorum by itself (controller.quorum.auto.join.enable), so that a controller
    with an empty metadata log never votes as the one that had the log."""

    version: str
    cache_dir: Path
    state_dir: Path
    port: int
    controller_port: int
    broker_password: str = field(repr=False)
    admin_password: str = field(repr=False)
    node_id: int = 1
    voters: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        return "kafka" if not self.voters else f"kafka-{self.node_id}"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}" / "libs"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def process(self) -> DetachedProcess:
        return DetachedProcess(
            name=self.name,
            pidfile=self.state_dir / "broker.pid",
            logfile=self.state_dir / "logs" / "broker.log",
            marker=str(self.config_file),
        )

    # -- setup ---------------------------------------------------------------------------------

    def jars_present(self) -> bool:
        return (self.libs_dir / ".complete").exists()

    def fetch_jars(self) -> None:
        """Copy the broker and its runtime dependencies from Maven Central into the cache, once."""
        if self.jars_present():
            return
        java()  # fail early, before a download that could not be used
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(
                "Maven (mvn) is needed once, to fetch the Kafka broker's jars from Maven Central. "
                f"Install it (Debian: apt-get install maven) and try again. {NO_DOCKER_HINT}"
            )
        staging = self.libs_dir.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with tempfile.TemporaryDirectory(prefix="rekap-kafka-pom-") as pom_dir:
            pom = POM.format(kafka=self.version, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION)
            Path(pom_dir, "pom.xml").write_text(pom)
            result = subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                    f"-DoutputDirectory={staging}",
                    "-DincludeScope=runtime",
                ],
                cwd=pom_dir,
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-15:]
            raise StackError(
                f"Maven could not fetch Apache Kafka {self.version} from Maven Central:\n" + "\n".join(output)
            )
        if not (staging / f"kafka_2.13-{self.version}.jar").exists():
            raise StackError(f"Maven finished but kafka_2.13-{self.version}.jar is not in {staging}.")
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        staging.rename(self.libs_dir)
        (self.libs_dir / ".complete").write_text(self.version + "\n")

    def is_formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def format(self, cluster_id: str | None = None, controllers: str | None = None) -> None:
        """Write the config and format the log folder (first start only): with a new cluster id, or with the
        cluster's (every node of a cluster is formatted with the same). A new cluster's nodes are formatted
        with `controllers` (id@host:port:directory-id, every one); a node of a running cluster without them
        (it joins the quorum once it runs)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        cluster_id = cluster_id or new_cluster_id()
        users = [
            f"SCRAM-SHA-512=[name={name},password={password}]"
            for name, password in (("broker", self.broker_password), ("admin", self.admin_password))
        ]
        scram = [arg for user in users for arg in ("--add-scram", user)]
        arguments = [
            "-cp",
            self._classpath(),
            "kafka.tools.StorageTool",
            "format",
            *(_quorum_arguments(self.voters, controllers)),
            "-t",
            cluster_id,
            "-c",
            str(self.config_file),
            *scram,
        ]
        # The passwords go to Java in an argument file (mode 600, removed at once), never on a command line
        # that any local user reads in `ps` while the tool runs.
        argfile = self.state_dir / "format.args"
        argfile.unlink(missing_ok=True)
        fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(java_argument(a) + "\n" for a in arguments))
        try:
            result = subprocess.run([java(), f"@{argfile}"], capture_output=True, text=True, check=False)
        finally:
            argfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(f"Formatting the Kafka log folder failed:\n{result.stdout}{result.stderr}")
        (self.state_dir / "cluster.id").write_text(cluster_id + "\n")

    def _write_config(self) -> None:
        (self.state_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        if self.voters:
            controllers = ",".join(f"127.0.0.1:{port}" for _, port in self.voters)
            quorum = f"controller.quorum.bootstrap.servers={controllers}\ncontroller.quorum.auto.join.enable=true"
        else:
            quorum = f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        config = SERVER_PROPERTIES.format(
            node_id=self.node_id,
            quorum=quorum,
            replication=IN_A_CLUSTER if self.voters else ALONE,
            port=self.port,
            controller_port=self.controller_port,
            data_dir=self.data_dir,
            broker_password=self.broker_password,
        )
        descriptor = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds a password
        with os.fdopen(descriptor, "w") as file:
            file.write(config)

    def _check_ports_unchanged(self) -> None:
        """A formatted KRaft controller remembers its endpoint, so ports are fixed at format time."""
        config = self.config_file.read_text()
        if "sasl.enabled.mechanisms" not in config:
            raise StackError(
                f"The local broker in {self.state_dir} was made by an older Rekap, without authentication: "
                "`rekap stack reset` starts over with empty data."
            )
        if "controller.quorum.voters=" in config:
            raise StackError(
                f"The local broker in {self.state_dir} was made by an older Rekap, with a fixed quorum: "
                "`rekap stack reset` starts over with empty data."
            )
        expected = f"listeners=SASL_PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        if expected not in config.splitlines():
            raise StackError(
                f"The local broker in {self.state_dir} was formatted with other ports "
                f"({_listeners(config)}). Set REKAP_KAFKA_PORT and REKAP_KAFKA_CONTROLLER_PORT back, "
                "or run `rekap stack reset` to start over with empty data."
            )

    # -- running -------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0, cluster_id: str | None = None) -> int:
        """Start the broker (formatting it first if new: a node of a cluster with the cluster's id, as one whose
        disk was lost rejoins empty) and wait until it answers. Returns the pid. (A node of a cluster answers
        once a majority of the controllers do: a cluster's nodes start together, see start_nodes.)"""
        self.fetch_jars()
        if not self.is_formatted():
            if self.voters and cluster_id is None:
                raise StackError(f"{self.name} has no data: give the cluster's id to format it (cluster_id_of).")
            self.format(cluster_id)
        return self.wait_started(self.launch(), timeout)

    def launch(self) -> Launched:
        """Start the formatted node's process, without waiting for it."""
        running = self.process.pid()
        if running is not None:
            return Launched(running, None, 0)
        self._check_ports_unchanged()
        self._write_config()  # this Rekap's settings, on a node formatted by an older one too
        log = self.process.logfile
        offset = log.stat().st_size if log.exists() else 0
        broker = self.process.start(
            [
                java(),
                *JVM_OPTIONS,
                f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
                f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
                "-cp",
                self._classpath(),
                "kafka.Kafka",
                str(self.config_file),
            ],
        )
        return Launched(broker.pid, broker, offset)

    def wait_started(self, launched: Launched, timeout: float = 120.0) -> int:
        """Until the node launched says it started and answers. Returns the pid."""
        broker, log, offset = launched.popen, self.process.logfile, launched.log_offset
        if broker is None:  # it ran already
            return launched.pid

        def started() -> bool:
            if broker.poll() is not None:
                raise StackError(
                    f"The Kafka broker exited while starting. Last lines of {log}:\n" + self.process.log_tail()
                )
            return "Kafka Server started" in _log_since(log, offset) and answers(self.port)

        if not wait_until(started, timeout, interval=0.25):
            self.process.stop()
            raise StackError(
                f"The Kafka broker did not start within {timeout:.0f} s. Last lines of {log}:\n"
                + self.process.log_tail()
            )
        return broker.pid

    def stop(self) -> bool:
        # A controlled shutdown of a single node takes a few seconds; its log stays consistent. (In a cluster,
        # the last nodes to stop wait for a quorum that is gone: stop them together, see stop_nodes.)
        return self.process.stop(timeout=60.0)

    def _classpath(self) -> str:
        return f"{self.libs_dir}/*"


@dataclass(frozen=True)
class Launched:
    """A node's process just started (popen None: it was running already), and where its log stood."""

    pid: int
    popen: subprocess.Popen[bytes] | None
    log_offset: int


def start_nodes(nodes: list[LocalKafka], timeout: float = 120.0) -> list[int]:
    """Start every node of a cluster (formatting the new ones with one cluster id), then wait for each: a node
    answers only once a majority of the controllers run. Returns their pids."""
    if not nodes:
        return []
    nodes[0].fetch_jars()
    formatted = [n for n in nodes if n.is_formatted()]
    cluster_id = cluster_id_of(formatted[0]) if formatted else new_cluster_id()
    # A new cluster: every controller named, each with the directory id its metadata folder is formatted
    # with. A node without data in a cluster that has some: formatted to join (its disk was lost).
    controllers = None
    if not formatted and nodes[0].voters:
        controllers = ",".join(f"{n}@127.0.0.1:{port}:{new_cluster_id()}" for n, port in nodes[0].voters)
    for node in nodes:
        if not node.is_formatted():
            node.format(cluster_id, controllers)
    launched = [node.launch() for node in nodes]
    return [node.wait_started(started, timeout) for node, started in zip(nodes, launched, strict=True)]


def stop_nodes(nodes: list[LocalKafka]) -> list[str]:
    """Stop every node, together (one stopping alone waits for the others' controllers). Returns the names of
    those that ran."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 (only the stack's down needs it)

    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        stopped = list(pool.map(lambda node: node.stop(), nodes))
    return [node.name for node, was in zip(nodes, stopped, strict=True) if was]


def _quorum_arguments(voters: tuple[tuple[int, int], ...], controllers: str | None) -> list[str]:
    """StorageTool's quorum arguments: alone, its own quorum; a new cluster's node, every controller; a node
    joining a running cluster, none."""
    if not voters:
        return ["--standalone"]
    return ["--initial-controllers", controllers] if controllers else ["--no-initial-controllers"]


def cluster_id_of(node: LocalKafka) -> str:
    """The id of the cluster a formatted node belongs to (its meta.properties)."""
    for line in (node.data_dir / "meta.properties").read_text().splitlines():
        if line.startswith("cluster.id="):
            return line.removeprefix("cluster.id=")
    raise StackError(f"{node.data_dir / 'meta.properties'} names no cluster id: `rekap stack reset` starts over.")


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, not starting with '-' (KRaft's format)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def java_argument(text: str) -> str:
    """One argument as a Java @argfile holds it: quoted, its backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def java() -> str:
    """The path of a Java 17+ runtime (JAVA_HOME first, then PATH), or a StackError saying what to do."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    hint = (
        f"The local Kafka broker needs Java {MIN_JAVA} or newer "
        f"(Debian: apt-get install openjdk-{MIN_JAVA}-jre-headless). {NO_DOCKER_HINT}"
    )
    if candidate is None or not Path(candidate).exists():
        raise StackError(f"No Java runtime found (java is not on PATH). {hint}")
    result = subprocess.run([candidate, "-version"], capture_output=True, text=True, check=False)
    major = java_major_version(result.stderr + result.stdout)
    if major is None or major < MIN_JAVA:
        raise StackError(f"{candidate} is Java {major or 'of an unknown version'}. {hint}")
    return candidate


def java_major_version(version_output: str) -> int | None:
    """17 for 'openjdk version "17.0.15"', 8 for 'java version "1.8.0_392"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    first = int(match.group(1))
    return int(match.group(2) or 0) if first == 1 else first


def _log_since(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _listeners(config: str) -> str:
    for line in config.splitlines():
        if line.startswith("listeners="):
            return line.removeprefix("listeners=")
    return "unknown"
