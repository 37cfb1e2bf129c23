"""A login set is answered with the policy it was given: its group's, or the connection limit asked."""

from __future__ import annotations

from rekap.app import logins
from rekap.app.logins import POLICIES, Group, Login


class Logins:
    def __init__(self) -> None:
        self.existing: dict[str, Group] = {}

    async def set_login(self, name: str, group: Group, password: str, connection_limit: int | None) -> bool:
        assert password
        assert connection_limit in (None, 2)
        created = name not in self.existing
        self.existing[name] = group
        return created

    async def drop_login(self, name: str) -> bool:
        return self.existing.pop(name, None) is not None

    async def list_logins(self) -> list[Login]:
        return [Login(n, g.role, -1, []) for n, g in self.existing.items()]


async def test_a_login_gets_its_group_s_policy_unless_a_limit_is_asked() -> None:
    store = Logins()
    first = await logins.set_login(store, "ana", Group.READER, "pw")
    assert (first.created, first.connection_limit) == (True, POLICIES[Group.READER].connection_limit)
    assert first.settings["default_transaction_read_only"] == "on"
    again = await logins.set_login(store, "ana", Group.OPERATOR, "pw", 2)
    assert (again.created, again.group, again.connection_limit) == (False, Group.OPERATOR, 2)
