"""`rekap kafka ...`: the topics, and the users of the broker with their ACLs (as the admin principal)."""

from __future__ import annotations

import argparse
import asyncio

from rekap.access import KafkaRole
from rekap.app import broker
from rekap.cli.common import KAFKA, TOPICS, SubParsers, add_command, add_password_options, read_password, say
from rekap.config import Settings
from rekap.wiring import KafkaAdmin


def setup(settings: Settings, _: argparse.Namespace) -> int:
    topics = settings.topics()
    created = asyncio.run(broker.set_up_topics(KafkaAdmin(settings), topics))
    for topic in topics:
        say(f"{'created' if topic.name in created else 'exists '}  {topic.name}")
    return 0


def user_set(settings: Settings, args: argparse.Namespace) -> int:
    role = KafkaRole(args.role)
    password = read_password(args, args.name)
    names = settings.resources()
    acls = broker.set_user(KafkaAdmin(settings), args.name, password, role, names)
    say(f"user {args.name} set, with the {role} ACLs:")
    for acl in acls:
        say(f"  {acl.operation:<16} {acl.resource_type} {acl.name}")
    return 0


def user_remove(settings: Settings, args: argparse.Namespace) -> int:
    broker.remove_user(KafkaAdmin(settings), args.name)
    say(f"user {args.name} removed (its password and its ACLs)")
    return 0


def register(commands: SubParsers) -> None:
    kafka = commands.add_parser("kafka", help="the broker's topics, users and ACLs (as the admin)")
    actions = kafka.add_subparsers(title="kafka commands", required=True, metavar="ACTION")
    add_command(
        actions,
        "setup",
        setup,
        "create the tally and dead-letter topics if missing",
        reads=(*KAFKA, *TOPICS),
        example="REKAP_KAFKA_BOOTSTRAP=kafka.example:9092 REKAP_KAFKA_USERNAME=admin rekap kafka setup",
    )
    user = actions.add_parser("user", help="SCRAM-SHA-512 users and their ACLs")
    users = user.add_subparsers(title="user commands", required=True, metavar="ACTION")
    setter = add_command(
        users,
        "set",
        user_set,
        "create or update a user, with exactly its role's ACLs",
        reads=(*KAFKA, *TOPICS, "group_id"),
        example="rekap kafka user set terminals-a --role terminals --password-env VENDOR_A_PASSWORD",
    )
    setter.add_argument("name", help="the principal's name, e.g. terminals-vendor-a")
    setter.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in KafkaRole],
        help="terminals: write the tally topic; tabulator: read it, write dead letters",
    )
    add_password_options(setter)
    remover = add_command(
        users,
        "remove",
        user_remove,
        "delete a user's password and ACLs",
        reads=KAFKA,
        example="rekap kafka user remove terminals-vendor-a",
    )
    remover.add_argument("name")
