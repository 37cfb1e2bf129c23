"""The composition root of the command line: a database session made from the settings, handed to a use
case as its ports (the tabulator's own is bootstrap.py). The command line calls these; it never opens a
connection or calls an adapter itself."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from rekap.access import KafkaAccess, KafkaRole, Resources, Topic, redact_url
from rekap.adapters.kafka.photos import PhotoPublisher
from rekap.adapters.kafka.topics import ensure_topics, log_start
from rekap.adapters.photos import photo_store
from rekap.adapters.postgres import night_check, readings
from rekap.adapters.postgres.connection import BoundConnection, connect
from rekap.adapters.postgres.masterdata import read_master_data
from rekap.adapters.postgres.readings import has_forms
from rekap.adapters.postgres.roles import bootstrap_database
from rekap.adapters.postgres.session import Session
from rekap.app.broker import Acl
from rekap.app.night import RaceCount
from rekap.audit import export, keys
from rekap.audit.export import Exported
from rekap.audit.keys import KeyChange
from rekap.config import PHOTO_RECORD_BYTES, DbUser, Settings
from rekap.domain.contests import Contest
from rekap.domain.masterdata import MasterData
from rekap.domain.signing import SigningKey
from rekap.domain.terminals import Terminal
from rekap.errors import RekapError, UnavailableError
from rekap.publisher import Publisher, play
from rekap.retry import until_available
from rekap.simulation.night import Expected, Planned, PlannedPhoto
from rekap.site import build as site
from rekap.site.build import BuildReport

T = TypeVar("T")
URL_SETTING = {"owner": "REKAP_OWNER_DATABASE_URL", "operator": "REKAP_OPERATOR_DATABASE_URL"}


async def open_connection(settings: Settings, user: DbUser = "operator") -> BoundConnection:
    """A session as `user`: operators' commands connect as the operator, `db` commands as the owner."""
    url = settings.dsn_for(user)
    try:
        return await connect(url, timeout=10)
    except RekapError as failed:
        error = failed.__cause__ or failed  # what the driver said
        where = "DATABASE_URL" if user not in URL_SETTING else f"{URL_SETTING[user]} (or DATABASE_URL)"
        raise UnavailableError(
            f"Cannot connect to PostgreSQL at {redact_url(url)} as the {user}: {error}. "
            f"Is the stack up (`rekap stack up`), or {where} right?"
        ) from None


def with_session(settings: Settings, use: Callable[[Session], Awaitable[T]], user: DbUser = "operator") -> T:
    """Run a use case on a fresh session as `user` (its ports answered by PostgreSQL), closed afterwards."""
    return _on_connection(settings, user, lambda conn: use(Session(conn)))


def _on_connection(settings: Settings, user: DbUser, work: Callable[[BoundConnection], Awaitable[T]]) -> T:
    """Run a service that reads PostgreSQL itself (the site, the audit bundle, the election key) on a fresh
    connection as `user`, closed afterwards."""

    async def run() -> T:
        conn = await open_connection(settings, user)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def photo_locations(settings: Settings) -> Callable[[str], str]:
    """Where the photo store keeps a photo of this name (a path, or an s3:// URL)."""
    return photo_store(settings).location


def build_site(
    settings: Settings,
    folder: Path,
    *,
    full: bool,
    audit_href: str | None,
    election_key: Path | None,
    progress: Callable[[str], None],
) -> BuildReport:
    """The public site into `folder`, from one snapshot read as the operator (the signed forms are in
    rekap.record); its head signed with `election_key` (None: no signed head)."""
    return _on_connection(
        settings,
        "operator",
        lambda conn: site.build_site(
            conn,
            folder,
            full=full,
            audit_href=audit_href,
            election_key=election_key,
            progress=progress,
            photos=photo_store(settings),
        ),
    )


def export_bundle(
    settings: Settings, folder: Path, progress: Callable[[str], None], *, with_photos: bool = False
) -> Exported:
    """The audit bundle into `folder`, read as the operator, its head signed with the election key; with the
    photos the deciding forms name, from the photo store (`with_photos`)."""
    photos = photo_store(settings) if with_photos else None
    return _on_connection(
        settings,
        "operator",
        lambda conn: export.export_bundle(conn, folder, settings.election_key_file, progress=progress, photos=photos),
    )


def create_election_key(settings: Settings) -> KeyChange:
    return _on_connection(settings, "operator", lambda conn: keys.create_key(conn, settings.election_key_file))


def rotate_election_key(settings: Settings) -> KeyChange:
    return _on_connection(settings, "operator", lambda conn: keys.rotate_key(conn, settings.election_key_file))


async def send_form(
    settings: Settings, tps_id: str | None, value: bytes, key: SigningKey, *, within: float
) -> tuple[int, int]:
    """Sign and send a form's exact bytes as a terminal, retrying while the broker does not answer (for
    `within` seconds at most): its (partition, offset)."""
    terminals = settings.kafka("terminals")

    async def attempt() -> tuple[int, int]:
        await ensure_topics(terminals, [Topic(settings.tally_topic, settings.topic_partitions)])
        async with Publisher(terminals, settings.tally_topic) as publisher:
            metadata = await publisher.publish(tps_id, value, key)
        return metadata.partition, metadata.offset

    # Sent again after a failure, the form may reach the topic twice: the second is judged a duplicate.
    # The command says an outage in its one line: neither aiokafka's errors nor each retry are shown.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return await until_available(f"Kafka at {terminals.bootstrap_servers}", attempt, within=within, quiet=True)


async def send_photos(
    settings: Settings, photos: Sequence[tuple[str, bytes]], *, within: float
) -> list[tuple[int, int]]:
    """Send photos as a terminal, keyed by their digests, retrying while the broker does not answer: each one's
    (partition, offset). Sent twice, a photo is stored once."""
    terminals = settings.kafka("terminals")

    async def attempt() -> list[tuple[int, int]]:
        await ensure_topics(terminals, [Topic(settings.photo_topic, settings.topic_partitions, PHOTO_RECORD_BYTES)])
        async with PhotoPublisher(terminals, settings.photo_topic) as publisher:
            return await publisher.publish(photos)

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return await until_available(f"Kafka at {terminals.bootstrap_servers}", attempt, within=within, quiet=True)


class Broker:
    """The broker as the use cases ask it (as the admin: where a partition's log starts)."""

    def __init__(self, access: KafkaAccess) -> None:
        self._access = access

    async def log_start(self, topic: str, partition: int) -> int:
        return await log_start(self._access, topic, partition)


def with_broker_and_session(settings: Settings, use: Callable[[Broker, Session], Awaitable[T]]) -> T:
    """Run a use case that asks the broker (as the admin) and the database (as the operator)."""
    broker = Broker(settings.kafka("admin"))
    return with_session(settings, lambda session: use(broker, session))


class KafkaAdmin:
    """The broker's administration as the use cases ask it, as the admin principal. confluent-kafka (11 MB
    of memory) is imported by the calls that use it, not by every `rekap` command: the tabulator is one."""

    def __init__(self, settings: Settings) -> None:
        self._access = settings.kafka("admin")

    async def ensure_topics(self, topics: Sequence[Topic]) -> list[str]:
        return await ensure_topics(self._access, topics)

    def set_user(self, user: str, password: str, role: KafkaRole, names: Resources) -> None:
        from rekap.adapters.kafka.security import set_user  # noqa: PLC0415 (see the class)

        set_user(self._access, user, password, role, names)

    def acls_of(self, user: str) -> list[Acl]:
        from rekap.adapters.kafka.security import acls_of  # noqa: PLC0415 (see the class)

        return [Acl(_named(acl.operation), _named(acl.restype), acl.name) for acl in acls_of(self._access, user)]

    def remove_user(self, user: str) -> None:
        from rekap.adapters.kafka.security import remove_user  # noqa: PLC0415 (see the class)

        remove_user(self._access, user)


def _named(value: object) -> str:
    """An ACL's operation or resource type as Kafka's tools write it: write, topic."""
    return str(getattr(value, "name", value)).lower()


def bootstrap_owner(settings: Settings, password: str) -> str:
    """As the superuser of REKAP_ADMIN_DATABASE_URL, once per server: the owner and its database (named by the
    owner's URL, else the local stack's name), large objects revoked. Returns the database's name."""
    assert settings.admin_database_url is not None
    database = urlsplit(settings.dsn_for("owner")).path.lstrip("/") or "rekap"
    asyncio.run(bootstrap_database(settings.admin_database_url.get_secret_value(), password, database))
    return database


class NightOnServers:
    """A simulated night's ports: the database (as the operator) and the broker (as the terminals)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session, self._settings = session, settings
        self._conn, self._topic = session.conn, settings.tally_topic

    async def master_data(self) -> MasterData:
        return await read_master_data(self._conn)

    async def has_forms(self) -> bool:
        return await has_forms(self._conn)

    async def register_terminals(self, terminals: list[Terminal]) -> int:
        return await self._session.register_terminals(terminals)

    async def send(self, planned: list[Planned], duration_s: float, sent: Callable[[int], None]) -> dict[int, int]:
        access = self._settings.kafka("terminals")
        await ensure_topics(access, [Topic(self._topic, self._settings.topic_partitions)])
        async with Publisher(access, self._topic) as publisher:
            ends, _ = await play(publisher, planned, duration_s, sent)
        return ends

    async def wait_counted(self, ends: dict[int, int], timeout_s: float, counted: Callable[[int], None]) -> None:
        await night_check.wait_applied(self._conn, self._topic, ends, timeout=timeout_s, progress=counted)

    async def send_photos(self, photos: list[PlannedPhoto]) -> None:
        await send_photos(self._settings, [(photo.sha256, photo.data) for photo in photos], within=30.0)

    async def wait_photos(self, digests: list[str], timeout_s: float) -> None:
        await night_check.wait_photos(self._conn, digests, timeout=timeout_s)

    async def race_count(self, race: Contest, levels: list[str]) -> RaceCount:
        return await readings.race_count(self._conn, race, levels)

    async def outcome_counts(self) -> Counter[tuple[str, str | None]]:
        return await readings.outcome_counts(self._conn, self._topic)

    async def differences(self, planned: list[Planned], expected: Expected) -> list[str]:
        return await night_check.differences(self._conn, self._topic, planned, expected)
