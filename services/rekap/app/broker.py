"""Use cases of the broker's administration (`rekap kafka setup / user set / user remove`), as its admin
principal: the topics, and each user with exactly the ACLs of its role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rekap.access import KafkaRole, Resources, Topic


@dataclass(frozen=True)
class Acl:
    operation: str  # as Kafka's tools write it: write, read, describe
    resource_type: str  # topic, group, ...
    name: str


class BrokerAdmin(Protocol):
    async def ensure_topics(self, topics: Sequence[Topic]) -> list[str]: ...

    def set_user(self, user: str, password: str, role: KafkaRole, names: Resources) -> None: ...

    def acls_of(self, user: str) -> list[Acl]: ...

    def remove_user(self, user: str) -> None: ...


async def set_up_topics(admin: BrokerAdmin, topics: Sequence[Topic]) -> list[str]:
    """Create the topics that are missing; returns the names of those created."""
    return await admin.ensure_topics(topics)


def set_user(admin: BrokerAdmin, user: str, password: str, role: KafkaRole, names: Resources) -> list[Acl]:
    """The user with this password and exactly its role's ACLs on these names; returns its ACLs now."""
    admin.set_user(user, password, role, names)
    return admin.acls_of(user)


def remove_user(admin: BrokerAdmin, user: str) -> None:
    """The user's password and every ACL it had."""
    admin.remove_user(user)
