"""Topic administration: the topics Rekap needs exist, with the partitions it asks for."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from rekap.errors import RekapError


async def ensure_topics(bootstrap_servers: str, topics: dict[str, int], replication_factor: int = 1) -> list[str]:
    """Create each topic (name -> partitions) that does not exist yet. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="rekap-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=replication_factor)
            for name, partitions in topics.items()
            if name not in existing
        ]
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
        created = []
        for name, code, message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif for_code(code) is not TopicAlreadyExistsError:  # created meanwhile by another
                raise RekapError(f"Kafka would not create topic {name}: {for_code(code).__name__} {message}")
        return created
    finally:
        await admin.close()
