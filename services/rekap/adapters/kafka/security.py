"""Kafka's side of least privilege: SCRAM-SHA-512 users and the ACLs of each role, set by the admin.

aiokafka, which carries the records, has no API for ACLs or SCRAM credentials; these few calls go
through confluent-kafka (librdkafka) instead. The broker denies whatever no ACL allows
(allow.everyone.if.no.acl.found=false); the admin is a super user in the broker's configuration.

  terminals  write the tally topic and the photo topic. Nothing else: not read them, not the dead letters,
             no topic admin.
  tabulator  read the tally topic with its consumer group, write the dead-letter topic, read both
             topics' configuration (it checks their retention); read the photo topic with the photo
             consumers' group (`rekap photos run` runs as the tabulator's user).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from rekap.access import KafkaAccess, KafkaRole, Resources
from rekap.errors import RekapError, UnavailableError

SCRAM_ITERATIONS = 8192
TIMEOUT_S = 15.0


def _rules(role: KafkaRole, names: Resources) -> Iterator[tuple[ResourceType, str, AclOperation]]:
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    if role is KafkaRole.TERMINALS:
        for name in (names.tally_topic, names.photo_topic):
            yield from ((topic, name, op) for op in (AclOperation.WRITE, AclOperation.DESCRIBE))
        return
    yield from (
        (topic, names.tally_topic, op)
        for op in (AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS)
    )
    yield from (
        (topic, names.dead_letter_topic, op)
        for op in (AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS)
    )
    yield from ((group, names.group_id, op) for op in (AclOperation.READ, AclOperation.DESCRIBE))
    yield from ((topic, names.photo_topic, op) for op in (AclOperation.READ, AclOperation.DESCRIBE))
    yield from ((group, names.photo_group_id, op) for op in (AclOperation.READ, AclOperation.DESCRIBE))


def acl_bindings(user: str, role: KafkaRole, names: Resources) -> list[AclBinding]:
    return [
        AclBinding(kind, name, ResourcePatternType.LITERAL, f"User:{user}", "*", operation, AclPermissionType.ALLOW)
        for kind, name, operation in _rules(role, names)
    ]


def _admin(access: KafkaAccess) -> AdminClient:
    # log_level 3: librdkafka says errors only (it notes routine events on stderr otherwise)
    config: dict[str, str | int | float | bool] = {**access.librdkafka(), "socket.timeout.ms": 10_000, "log_level": 3}
    return AdminClient(config)


def _wait(futures: Mapping[Any, Future[Any]], what: str) -> None:
    for future in futures.values():
        try:
            future.result(timeout=TIMEOUT_S)
        except KafkaException as error:
            raise RekapError(f"Kafka refused to {what}: {error.args[0].str()}") from None
        except TimeoutError:
            raise UnavailableError(f"Kafka did not answer within {TIMEOUT_S:.0f} s while trying to {what}") from None


def set_user(admin: KafkaAccess, user: str, password: str, role: KafkaRole, names: Resources) -> None:
    """Create or update `user` with this password, and give it exactly `role`'s ACLs (any other ACL of
    the user is removed). Idempotent."""
    client = _admin(admin)
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS), password.encode()
    )
    _wait(client.alter_user_scram_credentials([upsert]), f"set the password of {user}")
    grant_acls(admin, user, role, names)  # first: a running tabulator never loses a right it keeps
    wanted = set(acl_bindings(user, role, names))
    extras = [acl for acl in acls_of(admin, user) if acl not in wanted]
    if extras:
        exact = [
            AclBindingFilter(
                a.restype, a.name, a.resource_pattern_type, a.principal, a.host, a.operation, a.permission_type
            )
            for a in extras
        ]
        _wait(client.delete_acls(exact), f"remove the other ACLs of {user}")


def grant_acls(admin: KafkaAccess, user: str, role: KafkaRole, names: Resources) -> None:
    """Add `role`'s ACLs on these names to the user's, and return once the broker applies them."""
    client = _admin(admin)
    wanted = acl_bindings(user, role, names)
    _wait(client.create_acls(wanted), f"grant {user} the {role} ACLs")
    deadline = time.monotonic() + TIMEOUT_S
    while not set(wanted) <= set(acls_of(admin, user)):  # the broker's authoriser follows the metadata log
        if time.monotonic() > deadline:
            raise UnavailableError(f"the ACLs of {user} were not in force {TIMEOUT_S:.0f} s after they were created")
        time.sleep(0.05)


def remove_user(admin: KafkaAccess, user: str) -> None:
    """Delete the user's SCRAM credentials and every ACL naming it."""
    client = _admin(admin)
    _wait(client.delete_acls([_every_acl_of(user)]), f"remove the ACLs of {user}")
    deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
    try:
        _wait(client.alter_user_scram_credentials([deletion]), f"delete user {user}")
    except RekapError as error:
        if "RESOURCE_NOT_FOUND" not in str(error):
            raise


def _every_acl_of(user: str) -> AclBindingFilter:
    anything: str = None  # type: ignore[assignment]  # (the library's stubs say str; None matches any)
    return AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        f"User:{user}",
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )


def acls_of(admin: KafkaAccess, user: str) -> list[AclBinding]:
    client = _admin(admin)
    try:
        return list(client.describe_acls(_every_acl_of(user)).result(timeout=TIMEOUT_S))
    except KafkaException as error:
        raise RekapError(f"Kafka refused to list the ACLs of {user}: {error.args[0].str()}") from None


async def wait_until_accepted(access: KafkaAccess, timeout: float = 10.0) -> None:
    """A new password reaches the broker's authenticator a moment after the change is committed."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(**access.options(), request_timeout_ms=5000)
        try:
            await admin.start()
        except KafkaError:
            if time.monotonic() > deadline:
                raise UnavailableError(f"Kafka refuses {access.principal} {timeout:.0f} s after it was set") from None
            await asyncio.sleep(0.2)
        else:
            return
        finally:
            await admin.close()
