"""A database session as the use cases see it: the ports of rekap.app, answered by this package's reads
on one connection."""

from __future__ import annotations

from dataclasses import dataclass

from rekap.adapters.postgres import gaps, masterdata, migrations, readings, registry, reports, review, roles, terminals
from rekap.adapters.postgres.connection import Connection
from rekap.app.logins import Group, Login, MigrationState
from rekap.app.masterdata import TableChange
from rekap.app.publish import RecordOutcome
from rekap.app.recap import RecapRows
from rekap.app.review import HeldForm
from rekap.app.status import DecidingForm, Received
from rekap.app.terminals import Registration, TerminalRecord
from rekap.domain.batch import OffsetGap
from rekap.domain.forecast import FormWorld
from rekap.domain.head import TreeHead
from rekap.domain.masterdata import MasterDataSet
from rekap.domain.regions import Level
from rekap.domain.terminals import Terminal
from rekap.resources import migrations_dir


@dataclass(frozen=True)
class Session:
    conn: Connection

    async def region_exists(self, level: Level, code: str) -> bool:
        return await masterdata.region_exists(self.conn, level, code)

    async def deciding_forms(self, tps_id: str) -> list[DecidingForm]:
        return await readings.tps_forms(self.conn, tps_id)

    async def received(self, tps_id: str) -> list[Received]:
        return await readings.tps_history(self.conn, tps_id)

    async def recap_rows(self, region_code: str, contest_id: str, level: str, child: str) -> RecapRows:
        return await reports.read_recap_rows(self.conn, region_code, contest_id, level, child)

    async def held_forms(self, kecamatan: str | None) -> list[HeldForm]:
        return await review.held_forms(self.conn, kecamatan)

    async def register_terminals(self, registered: list[Terminal]) -> int:
        return await terminals.register_terminals(self.conn, registered)

    async def refused_registrations(self, registrations: list[Registration]) -> list[tuple[int, str]]:
        return await terminals.refused_registrations(self.conn, registrations)

    async def revoke_terminal(self, terminal_id: str) -> None:
        await terminals.revoke_terminal(self.conn, terminal_id)

    async def list_terminals(self) -> list[TerminalRecord]:
        return await terminals.list_terminals(self.conn)

    async def registry_head(self) -> TreeHead:
        return await registry.registry_head(self.conn)

    async def form_world(self, tps_id: str, terminal_id: str, contest_id: str) -> FormWorld:
        return FormWorld(
            await masterdata.read_master_data_of(self.conn, tps_id),
            await terminals.read_terminal(self.conn, terminal_id),
            await readings.deciding_form(self.conn, tps_id, contest_id),
        )

    async def record_outcome(self, topic: str, partition: int, offset: int) -> RecordOutcome | None:
        return await readings.record_outcome(self.conn, topic, partition, offset)

    async def accept_gap(
        self, topic: str, partition: int, log_start: int, *, accepted_by: str, reason: str
    ) -> OffsetGap:
        return await gaps.accept_gap(self.conn, topic, partition, log_start, accepted_by=accepted_by, reason=reason)

    async def load_master_data(self, dataset: MasterDataSet, *, replace: bool) -> list[TableChange]:
        return await masterdata.load_master_data(self.conn, dataset, replace=replace)

    async def count_rows(self) -> dict[str, int]:
        return await masterdata.count_rows(self.conn)

    async def migrate(self) -> list[str]:
        return [m.filename for m in await migrations.migrate(self.conn, migrations.load_migrations(migrations_dir()))]

    async def migration_states(self) -> list[MigrationState]:
        applied = dict(await migrations.applied_migrations(self.conn))
        return [MigrationState(m.filename, m.version in applied) for m in migrations.load_migrations(migrations_dir())]

    async def set_login(self, name: str, group: Group, password: str, connection_limit: int | None) -> bool:
        return await roles.set_login(self.conn, name, group, password, connection_limit)

    async def drop_login(self, name: str) -> bool:
        return await roles.drop_login(self.conn, name)

    async def list_logins(self) -> list[Login]:
        return await roles.list_logins(self.conn)
