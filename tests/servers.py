"""Who the tests connect as. The servers of a test run are set up as a KPU server is (docs/security.md): a
database owner that runs the migrations, a login per role, Kafka users with their ACLs; the tabulators of
the tests run as the tabulator, never as a superuser. Passwords are made per test run."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from rekap.access import KafkaAccess, KafkaRole, Resources, Topic, with_database
from rekap.adapters.kafka.security import grant_acls, set_user, wait_until_accepted
from rekap.adapters.kafka.topics import ensure_topics
from rekap.config import PHOTO_RECORD_BYTES, DbUser
from rekap.devstack.provision import provision_database as devstack_provision
from rekap.devstack.secrets import LOCAL_LOGINS

PASSWORDS: dict[DbUser, str] = {
    user: secrets.token_urlsafe(18) for user in ("owner", "tabulator", "operator", "reader")
}
KAFKA_PASSWORDS = {role: secrets.token_urlsafe(18) for role in KafkaRole}


def login_url(url: str, user: DbUser) -> str:
    """The same server and database, as the test run's login of `user` (see PASSWORDS)."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]  # one host:port, or a primary's and its standby's
    netloc = f"{quote(LOCAL_LOGINS[user], safe='')}:{quote(PASSWORDS[user], safe='')}@{hosts}"
    return urlunsplit(parts._replace(netloc=netloc))


async def provision_database(admin_url: str, database: str) -> None:
    """Set up as `rekap stack up` sets the local stack up, with this run's passwords."""
    owner_url = login_url(with_database(admin_url, database), "owner")
    await devstack_provision(admin_url, database, owner_url, {LOCAL_LOGINS[u]: p for u, p in PASSWORDS.items()})


@dataclass(frozen=True)
class BrokerAccess:
    """The broker of the test run, as its admin and as each role's user."""

    admin: KafkaAccess

    @property
    def bootstrap(self) -> str:
        return self.admin.bootstrap_servers

    def user(self, role: KafkaRole) -> KafkaAccess:
        return self.admin.as_user(role.value, KAFKA_PASSWORDS[role])

    @property
    def tabulator(self) -> KafkaAccess:
        return self.user(KafkaRole.TABULATOR)

    @property
    def terminals(self) -> KafkaAccess:
        return self.user(KafkaRole.TERMINALS)

    def set_users(self) -> None:
        for role in KafkaRole:
            set_user(self.admin, role.value, KAFKA_PASSWORDS[role], role, resources("tallies"))
        for role in KafkaRole:
            asyncio.run(wait_until_accepted(self.user(role)))

    async def new_topic(self, name: str, partitions: int = 3) -> None:
        """A topic, its dead-letter topic, and the ACLs of both roles on them (and on `{name}-tabulators`)."""
        await ensure_topics(
            self.admin,
            [
                Topic(name, partitions),
                Topic(f"{name}.dead-letters", partitions),
                Topic(f"{name}.photos", partitions, PHOTO_RECORD_BYTES),
            ],
        )
        for role in KafkaRole:
            await asyncio.to_thread(grant_acls, self.admin, role.value, role, resources(name))


def resources(topic: str) -> Resources:
    """The names the tests' settings give a tally topic's companions (see election.settings_for)."""
    if topic == "tallies":
        return Resources("tallies", "tallies.dead-letters", "rekap-tabulator", "photos", "rekap-photos")
    return Resources(topic, f"{topic}.dead-letters", f"{topic}-tabulators", f"{topic}.photos", f"{topic}-photos")
