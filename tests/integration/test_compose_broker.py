"""docker-compose.yml's broker, run here: its start script (deploy/kafka/start.sh) on the local stack's
jars, as the container would run it on the image's. No Docker engine is needed to prove that its
configuration authenticates everyone and that `rekap kafka` sets its users and ACLs up."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from rekap.access import KafkaAccess
from rekap.config import KAFKA_VERSION
from rekap.devstack.process import free_port
from tests.conftest import REPO, jar_cache
from tests.integration.cli import rekap
from tests.integration.test_kafka_security import read_one, refused, send, unauthenticated
from tests.servers import BrokerAccess

START = REPO / "deploy" / "kafka" / "start.sh"


@dataclass(frozen=True)
class ComposeBroker:
    internal: KafkaAccess  # as the admin, SASL over plaintext (the compose network)
    external: KafkaAccess  # as the admin, SASL over TLS (the other networks)


def certificates(folder: Path) -> tuple[Path, Path]:
    """A CA, and the broker's certificate for localhost signed by it: (CA file, broker's PEM keystore)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the TLS listener cannot be tried")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Rekap test CA",
    )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost"
    )
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    # PBE-SHA1-3DES: the key encryption Java reads (not every JDK knows PBES2, openssl's default)
    openssl("pkcs8", "-topk8", "-in", "broker.key", "-out", "broker.p8", "-v1", "PBE-SHA1-3DES",
            "-passout", "pass:key-secret")  # fmt: skip
    keystore = folder / "keystore.pem"
    keystore.write_text((folder / "broker.p8").read_text() + (folder / "broker.pem").read_text())
    return folder / "ca.pem", keystore


@pytest.fixture
def broker(kafka: BrokerAccess, tmp_path: Path) -> Iterator[ComposeBroker]:
    """The script's broker on free loopback ports (`kafka` first: its jars are then in the cache), its
    external listener with TLS."""
    port, external = free_port(), free_port()
    ca_file, keystore = certificates(tmp_path)
    env = {
        "PATH": os.environ["PATH"], "KAFKA_HOME": str(jar_cache() / f"kafka-{KAFKA_VERSION}"),
        "KAFKA_DATA": str(tmp_path / "data"), "KAFKA_CONFIG": str(tmp_path / "server.properties"),
        "KAFKA_BIND": "127.0.0.1", "KAFKA_ADVERTISED_HOST": "127.0.0.1", "KAFKA_INTERNAL_PORT": str(port),
        "KAFKA_EXTERNAL_PORT": str(external), "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_TLS_KEYSTORE": str(keystore), "KAFKA_TLS_KEY_PASSWORD": "key-secret",
        "KAFKA_BROKER_PASSWORD": secrets.token_urlsafe(12), "KAFKA_ADMIN_PASSWORD": "compose-admin",
    }  # fmt: skip
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    with (tmp_path / "broker.log").open("w") as log:
        broker = subprocess.Popen(["/bin/sh", str(START)], env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        internal = KafkaAccess(f"127.0.0.1:{port}", "admin", "compose-admin")
        yield ComposeBroker(internal, KafkaAccess(f"localhost:{external}", "admin", "compose-admin", str(ca_file)))
    finally:
        os.killpg(broker.pid, signal.SIGTERM)
        broker.wait(timeout=60)


async def answers(access: KafkaAccess, seconds: float = 90) -> None:
    for _ in range(int(seconds * 2)):
        admin = AIOKafkaAdminClient(**access.options(), request_timeout_ms=3000)
        try:
            await admin.start()
        except KafkaError:
            await asyncio.sleep(0.5)
        else:
            return
        finally:
            await admin.close()
    pytest.fail(f"the compose broker did not answer within {seconds:.0f} s")


async def test_the_compose_broker_refuses_anonymous_and_takes_its_users_from_rekap_kafka(
    broker: ComposeBroker,
) -> None:
    compose_broker = broker.internal
    await answers(compose_broker)
    await unauthenticated(send(KafkaAccess(compose_broker.bootstrap_servers), "tallies"))
    env = {
        "PATH": os.environ["PATH"], "REKAP_KAFKA_BOOTSTRAP": compose_broker.bootstrap_servers,
        "REKAP_KAFKA_USERNAME": "admin", "REKAP_KAFKA_PASSWORD": "compose-admin", "TERMINALS_PASSWORD": "t-secret",
    }  # fmt: skip
    for command in (["kafka", "setup"],
                    ["kafka", "user", "set", "terminals", "--role", "terminals", "--password-env", "TERMINALS_PASSWORD"]):  # fmt: skip
        done = await asyncio.to_thread(rekap, env, *command)
        assert done.returncode == 0, done.stderr
    terminals = compose_broker.as_user("terminals", "t-secret")
    for _ in range(50):
        try:
            await send(terminals, "tallies")
            break
        except KafkaError:
            await asyncio.sleep(0.2)
    await refused(read_one(terminals, "tallies"))

    # Over TLS, from the other networks: the same user, the broker's certificate checked against the CA.
    over_tls = broker.external.as_user("terminals", "t-secret")
    assert over_tls.security_protocol == "SASL_SSL"
    await send(over_tls, "tallies")
    plain = KafkaAccess(broker.external.bootstrap_servers, "terminals", "t-secret")  # SASL without TLS
    await unauthenticated(send(plain, "tallies"))
