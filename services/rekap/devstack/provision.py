"""What `rekap stack up` sets up inside the servers it started, as a KPU server's administrators would
(README, "Security model"): the database owner and the database, the schema, a login per role; the
topics, a Kafka user per role with its ACLs. Each step may run again: it changes nothing that is right."""

from __future__ import annotations

import asyncio

import asyncpg

from rekap.adapters.kafka.security import KafkaRole, Resources, set_user, wait_until_accepted
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres.migrations import Migration, load_migrations, migrate
from rekap.adapters.postgres.roles import Group, bootstrap_owner, revoke_large_objects, set_login
from rekap.config import LOCAL_DATABASE, Settings
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.secrets import LOCAL_LOGINS, StackSecrets
from rekap.resources import migrations_dir


async def provision_postgres(settings: Settings, server: LocalPostgres, secrets: StackSecrets) -> list[Migration]:
    """Returns the migrations applied."""
    admin = await asyncpg.connect(server.url)
    try:
        await bootstrap_owner(admin, secrets.postgres[LOCAL_LOGINS["owner"]], LOCAL_DATABASE)
    finally:
        await admin.close()
    admin = await asyncpg.connect(server.url_for(LOCAL_DATABASE))
    try:
        await revoke_large_objects(admin)
    finally:
        await admin.close()
    owner = await asyncpg.connect(settings.dsn_for("owner"))
    try:
        applied = await migrate(owner, load_migrations(migrations_dir()))
        for group in Group:
            login = LOCAL_LOGINS[group.value]
            await set_login(owner, login, group, secrets.postgres[login])
    finally:
        await owner.close()
    return applied


async def provision_kafka(settings: Settings, secrets: StackSecrets) -> list[str]:
    """Returns the topics created."""
    admin = settings.kafka("admin")
    topics = {settings.tally_topic: settings.topic_partitions, settings.dead_letter_topic: settings.topic_partitions}
    created = await ensure_topics(admin, topics)
    names = Resources(settings.tally_topic, settings.dead_letter_topic, settings.group_id)
    for role in KafkaRole:
        await asyncio.to_thread(set_user, admin, role.value, secrets.kafka[role.value], role, names)
    for role in KafkaRole:
        await wait_until_accepted(settings.kafka(role.value))
    return created
