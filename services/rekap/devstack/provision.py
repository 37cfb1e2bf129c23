"""What `rekap stack up` sets up inside the servers it started, as a KPU server's administrators would
(docs/security.md): the database owner and the database, the schema, a login per role; the
topics, a Kafka user per role with its ACLs. Each step may run again: it changes nothing that is right."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from rekap.access import KafkaRole
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres.connection import connect as postgres_connect
from rekap.adapters.postgres.migrations import Migration, load_migrations, migrate
from rekap.adapters.postgres.roles import bootstrap_database, set_login
from rekap.app.logins import Group
from rekap.config import Settings
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.secrets import LOCAL_DATABASE, LOCAL_LOGINS, StackSecrets
from rekap.resources import migrations_dir


async def provision_postgres(settings: Settings, server: LocalPostgres, secrets: StackSecrets) -> list[Migration]:
    """Returns the migrations applied."""
    return await provision_database(server.url, LOCAL_DATABASE, settings.dsn_for("owner"), secrets.postgres)


async def provision_database(
    admin_url: str, database: str, owner_url: str, passwords: Mapping[str, str]
) -> list[Migration]:
    """As the superuser: the owner and its database; as the owner (`owner_url`): the schema and a login per
    role, named as LOCAL_LOGINS names them, with the passwords `passwords` gives each name. Returns the
    migrations applied."""
    await bootstrap_database(admin_url, passwords[LOCAL_LOGINS["owner"]], database)
    owner = await postgres_connect(owner_url)
    try:
        applied = await migrate(owner, load_migrations(migrations_dir()))
        for group in Group:
            login = LOCAL_LOGINS.get(group.value)
            if login is not None:  # none for `monitor`: no exporter runs beside the local stack
                await set_login(owner, login, group, passwords[login])
    finally:
        await owner.close()
    return applied


async def provision_kafka(settings: Settings, secrets: StackSecrets) -> list[str]:
    """Returns the topics created."""
    # confluent-kafka (11 MB) only when the stack is provisioned, not in every `rekap` process.
    from rekap.adapters.kafka.security import set_user, wait_until_accepted  # noqa: PLC0415

    admin = settings.kafka("admin")
    created = await ensure_topics(admin, settings.topics())
    names = settings.resources()
    for role in KafkaRole:
        await asyncio.to_thread(set_user, admin, role.value, secrets.kafka[role.value], role, names)
    for role in KafkaRole:
        await wait_until_accepted(settings.kafka(role.value))
    return created
