"""The broker's administration: a user set is answered with the ACLs it holds now."""

from __future__ import annotations

from collections.abc import Sequence

from rekap.access import KafkaRole, Resources, Topic
from rekap.app import broker
from rekap.app.broker import Acl

NAMES = Resources("tallies", "tallies.dead-letters", "rekap-tabulators", "photos", "rekap-photos")


class Admin:
    def __init__(self) -> None:
        self.users: dict[str, KafkaRole] = {}

    async def ensure_topics(self, topics: Sequence[Topic]) -> list[str]:
        return [topic.name for topic in topics if topic.name != "tallies"]  # the tally topic exists already

    def set_user(self, user: str, password: str, role: KafkaRole, names: Resources) -> None:
        assert password
        assert names == NAMES
        self.users[user] = role

    def acls_of(self, user: str) -> list[Acl]:
        return [Acl("write", "topic", NAMES.tally_topic)] if self.users.get(user) is KafkaRole.TERMINALS else []

    def remove_user(self, user: str) -> None:
        del self.users[user]


async def test_topics_and_users() -> None:
    admin = Admin()
    assert await broker.set_up_topics(admin, [Topic("tallies", 6), Topic("tallies.dead-letters", 6)]) == [
        "tallies.dead-letters"
    ]
    assert broker.set_user(admin, "vendor-a", "pw", KafkaRole.TERMINALS, NAMES) == [Acl("write", "topic", "tallies")]
    broker.remove_user(admin, "vendor-a")
    assert admin.users == {}
