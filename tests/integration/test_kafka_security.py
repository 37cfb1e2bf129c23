"""Authenticated Kafka with ACLs, on the real broker: anonymous is refused, a terminals' user may only
write the tally topic, the tabulator's may only do its job, only the admin administers (the whole suite
runs its tabulators as the tabulator's user, which proves what that user must be able to do)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from rekap.access import KafkaAccess, KafkaRole, Topic
from rekap.adapters.kafka.security import acl_bindings, acls_of, remove_user, set_user
from rekap.adapters.kafka.topics import ensure_topics
from rekap.errors import RekapError
from tests.integration.cli import rekap
from tests.servers import BrokerAccess, resources

SHORT = {"request_timeout_ms": 5000}


async def send(access: KafkaAccess, topic: str) -> None:
    producer = AIOKafkaProducer(**access.options(), **SHORT, acks="all", enable_idempotence=True)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"{}", key=b"1601072001001")
    finally:
        await producer.stop()


async def read_one(access: KafkaAccess, topic: str) -> list[bytes | None]:
    """The values of the records of the topic's partition 0, as far as one fetch reads them."""
    consumer = AIOKafkaConsumer(**access.options(), **SHORT, enable_auto_commit=False)
    try:
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        fetched = await consumer.getmany(partition, timeout_ms=3000)
    finally:
        await consumer.stop()
    return [m.value for m in fetched.get(partition, [])]


async def delete_records(access: KafkaAccess, topic: str) -> None:
    admin = AIOKafkaAdminClient(**access.options(), **SHORT)
    try:
        await admin.start()
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(1)})
    finally:
        await admin.close()


async def delete_topic(access: KafkaAccess, topic: str) -> None:
    admin = AIOKafkaAdminClient(**access.options(), **SHORT)
    try:
        await admin.start()
        response = await admin.delete_topics([topic])
    finally:
        await admin.close()
    codes = [code for _, code, *_ in response.topic_error_codes]
    if any(codes):
        raise PermissionError(f"delete_topics answered {codes}")


AUTHORIZATION = (TopicAuthorizationFailedError, GroupAuthorizationFailedError, ClusterAuthorizationFailedError)


async def refused(attempt: Awaitable[object], by: type[Exception] | tuple[type[Exception], ...] = AUTHORIZATION,
                  says: str = "") -> None:  # fmt: skip
    """The broker refused it, as `by` says (a timeout or another error is not a refusal)."""
    with pytest.raises(by) as info:
        await asyncio.wait_for(attempt, timeout=30)
    assert says in str(info.value), info.value


async def unauthenticated(attempt: Awaitable[object]) -> None:
    """A SASL handshake the broker refuses ends the connection: the client never gets to bootstrap."""
    await refused(attempt, KafkaConnectionError, "Unable to bootstrap")


async def not_allowed_to_delete_topics(attempt: Awaitable[object]) -> None:
    await refused(attempt, PermissionError, "[29]")  # TOPIC_AUTHORIZATION_FAILED


async def not_allowed_to_create_topics(attempt: Awaitable[object]) -> None:
    await refused(attempt, RekapError, "may not create it")


async def test_anonymous_and_wrong_passwords_cannot_connect(kafka: BrokerAccess, topic: str) -> None:
    anonymous = KafkaAccess(kafka.bootstrap)
    assert anonymous.security_protocol == "PLAINTEXT"
    await unauthenticated(send(anonymous, topic))
    await unauthenticated(send(kafka.terminals.as_user("terminals", "not-the-password"), topic))
    await unauthenticated(send(kafka.terminals.as_user("nobody", "whatever"), topic))
    await send(kafka.terminals, topic)  # the same broker, the right password: it was the password


async def test_a_terminals_user_may_write_the_tally_topic_and_nothing_else(kafka: BrokerAccess, topic: str) -> None:
    terminals = kafka.terminals
    await send(terminals, topic)  # its job
    assert await read_one(kafka.admin, topic) == [b"{}"], "it arrived"
    await refused(read_one(terminals, topic))
    await refused(send(terminals, f"{topic}.dead-letters"))
    await refused(delete_records(terminals, topic))
    await not_allowed_to_delete_topics(delete_topic(terminals, f"{topic}.dead-letters"))
    await not_allowed_to_create_topics(ensure_topics(terminals, [Topic(f"{topic}-mine", 1)]))


async def test_the_tabulator_user_reads_and_dead_letters_but_cannot_forge_or_administer(
    kafka: BrokerAccess, topic: str
) -> None:
    tabulator = kafka.tabulator
    await send(kafka.terminals, topic)
    assert await read_one(tabulator, topic) == [b"{}"], "the tabulator reads what the terminals wrote"
    await send(tabulator, f"{topic}.dead-letters")
    assert await read_one(kafka.admin, f"{topic}.dead-letters") == [b"{}"]
    await refused(send(tabulator, topic))  # a stolen tabulator config publishes no forms
    await refused(delete_records(tabulator, topic))
    await not_allowed_to_delete_topics(delete_topic(tabulator, f"{topic}.dead-letters"))
    await not_allowed_to_create_topics(ensure_topics(tabulator, [Topic(f"{topic}-mine", 1)]))


async def test_only_the_admin_deletes_records_and_topics(kafka: BrokerAccess, topic: str) -> None:
    await send(kafka.terminals, topic)
    await delete_records(kafka.admin, topic)
    await delete_topic(kafka.admin, f"{topic}.dead-letters")


async def test_a_vendor_gets_a_user_of_its_own_and_loses_it(kafka: BrokerAccess, topic: str) -> None:
    """`rekap kafka user set NAME --role terminals`: one user per vendor, so one vendor's leaked
    password is revoked without stopping the others."""
    vendor = f"vendor-{uuid.uuid4().hex[:6]}"
    env = {
        "PATH": os.environ["PATH"], "REKAP_KAFKA_BOOTSTRAP": kafka.bootstrap, "REKAP_TALLY_TOPIC": topic,
        "REKAP_KAFKA_USERNAME": str(kafka.admin.username), "REKAP_KAFKA_PASSWORD": str(kafka.admin.password),
        "VENDOR_PASSWORD": "vendor secret 1",
    }  # fmt: skip
    made = await asyncio.to_thread(rekap, env, "kafka", "user", "set", vendor, "--role", "terminals",
                                   "--password-env", "VENDOR_PASSWORD")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"write            topic {topic}" in made.stdout, made.stdout
    access = kafka.admin.as_user(vendor, "vendor secret 1")
    for _ in range(50):  # the new password reaches the authenticator a moment later
        try:
            await send(access, topic)
            break
        except KafkaError:
            await asyncio.sleep(0.2)
    else:
        pytest.fail("the vendor's user was never accepted")
    await refused(read_one(access, topic))
    removed = await asyncio.to_thread(rekap, env, "kafka", "user", "remove", vendor)
    assert removed.returncode == 0, removed.stderr
    await asyncio.sleep(1)
    await unauthenticated(send(access, topic))
    as_terminals = {**env, "REKAP_KAFKA_USERNAME": "terminals", "REKAP_KAFKA_PASSWORD": str(kafka.terminals.password)}
    not_admin = await asyncio.to_thread(rekap, as_terminals, "kafka", "user", "set", "mine", "--role", "tabulator",
                                        "--password-env", "VENDOR_PASSWORD")  # fmt: skip
    assert not_admin.returncode == 1
    assert "Traceback" not in not_admin.stderr


async def test_setting_a_user_again_leaves_exactly_the_new_role_s_acls(kafka: BrokerAccess, topic: str) -> None:
    user = f"switch-{uuid.uuid4().hex[:6]}"
    names = resources(topic)
    try:
        await asyncio.to_thread(set_user, kafka.admin, user, "pw-1", KafkaRole.TERMINALS, names)
        await asyncio.to_thread(set_user, kafka.admin, user, "pw-2", KafkaRole.TABULATOR, names)
        held = set(await asyncio.to_thread(acls_of, kafka.admin, user))
        assert held == set(acl_bindings(user, KafkaRole.TABULATOR, names))
    finally:
        await asyncio.to_thread(remove_user, kafka.admin, user)
