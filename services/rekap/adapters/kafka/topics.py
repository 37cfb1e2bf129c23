"""Topic administration: the topics Rekap needs exist, with the partitions it asks for, and keep
every record forever: an election's records must never expire or be compacted away before (or after)
they are counted. A batch may be up to 1 MiB (the broker's default), which fits the contract's 64 KiB
forms with their headers, batched as any client batches them, and every dead-letter copy; on the photos'
topic, up to 2 MiB and a little (a photo of a sheet is at most 2 MiB).

On a cluster of three brokers or more, each topic is made with three replicas and `min.insync.replicas=2`:
with producers' acks=all, a record acknowledged is on two brokers' disks at least, and a broker lost (its
disk too) loses none. On fewer brokers, as many replicas as there are brokers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, TopicAuthorizationFailedError, for_code

from rekap.access import KafkaAccess, Topic
from rekap.errors import RekapError, UnavailableError

# Created with these (and each topic's max.message.bytes); an existing topic that differs is reported (see
# retention_problems), not changed.
TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
}


REPLICAS = 3  # on a cluster: each partition on three brokers,
IN_SYNC = 2  # a write acknowledged once two hold it


async def ensure_topics(access: KafkaAccess, topics: Sequence[Topic]) -> list[str]:
    """Create each topic that does not exist yet, replicated as the cluster allows (see above: start every
    broker first). Returns the names created. Only the admin may create topics: anyone else gets a RekapError
    naming the missing ones."""
    async with _admin(access) as admin:
        existing = set(await admin.list_topics())
        if not (missing := [topic for topic in topics if topic.name not in existing]):
            return []
        brokers = len((await admin.describe_cluster())["brokers"])
        replicas = min(REPLICAS, brokers)
        config = TOPIC_CONFIG | {"min.insync.replicas": str(IN_SYNC if replicas >= REPLICAS else 1)}
        wanted = [
            NewTopic(
                name=topic.name,
                num_partitions=topic.partitions,
                replication_factor=replicas,
                topic_configs=config | {"max.message.bytes": str(topic.max_message_bytes)},
            )
            for topic in missing
        ]
        response = await admin.create_topics(wanted)
        created = []
        for name, code, message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif for_code(code) is TopicAuthorizationFailedError:
                raise RekapError(
                    f"Topic {name} does not exist, and {access.principal} may not create it: the admin creates "
                    "the topics (`rekap kafka setup`)."
                )
            elif for_code(code) is not TopicAlreadyExistsError:  # created meanwhile by another
                raise RekapError(f"Kafka would not create topic {name}: {for_code(code).__name__} {message}")
        return created


@asynccontextmanager
async def _admin(access: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client, started (a broker that does not answer is an UnavailableError) and closed."""
    admin = AIOKafkaAdminClient(**access.options(), client_id="rekap-admin")
    try:
        await admin.start()
    except KafkaError as error:
        await admin.close()
        raise UnavailableError(f"Kafka did not answer: {error}") from error
    try:
        yield admin
    finally:
        await admin.close()


async def retention_problems(access: KafkaAccess, topics: list[str]) -> list[str]:
    """What in these topics' configuration could delete records: one sentence each, none if all is well."""
    async with _admin(access) as admin:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in topics])
    problems = []
    for response in responses:
        for _, _, _, resource_name, entries in response.resources:
            config = {entry[0]: entry[1] for entry in entries}
            problems += [
                f"topic {resource_name} has {key}={config[key]}: records may expire before they are counted"
                for key in ("retention.ms", "retention.bytes")
                if config.get(key) not in (None, "-1")
            ]
            if "compact" in (config.get("cleanup.policy") or ""):
                problems.append(f"topic {resource_name} is compacted: records of one key may disappear")
    return problems


async def log_start(access: KafkaAccess, topic: str, partition: int) -> int:
    """The first offset the partition's log still holds."""
    consumer = AIOKafkaConsumer(**access.options(), client_id="rekap-admin", request_timeout_ms=10_000)
    await consumer.start()
    try:
        if partition not in await _partitions(access, topic):
            raise RekapError(f"topic {topic} has no partition {partition}")
        tp = TopicPartition(topic, partition)
        return int((await consumer.beginning_offsets([tp]))[tp])
    except KafkaError as error:
        raise UnavailableError(f"Kafka: {error!r}") from error
    finally:
        await consumer.stop()


async def _partitions(access: KafkaAccess, topic: str) -> set[int]:
    admin = AIOKafkaAdminClient(**access.options(), client_id="rekap-admin")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {p["partition"] for t in described if t["topic"] == topic and t["error_code"] == 0 for p in t["partitions"]}
