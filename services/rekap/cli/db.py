"""`rekap db ...`: the PostgreSQL schema."""

from __future__ import annotations

import argparse

from rekap.app import logins
from rekap.app.logins import OWNER, Group
from rekap.cli.common import (
    OWNER_DB,
    SubParsers,
    add_command,
    add_password_options,
    read_password,
    say,
)
from rekap.config import Settings
from rekap.errors import ConfigError
from rekap.wiring import bootstrap_owner, with_session


def migrate_command(settings: Settings, _: argparse.Namespace) -> int:
    applied = with_session(settings, lambda session: session.migrate(), "owner")
    for filename in applied:
        say(f"applied {filename}")
    say(f"{len(applied)} migration(s) applied; the database is up to date.")
    return 0


def status(settings: Settings, _: argparse.Namespace) -> int:
    states = with_session(settings, lambda session: session.migration_states(), "owner")
    for state in states:
        say(f"{'applied' if state.applied else 'pending'}  {state.filename}")
    return 0 if all(state.applied for state in states) else 3


def bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    """Once per server, as a superuser: the owner role and its database (named by the owner's URL)."""
    if settings.admin_database_url is None:
        raise ConfigError("`db bootstrap` runs as a superuser: set REKAP_ADMIN_DATABASE_URL.")
    password = read_password(args, OWNER)
    database = bootstrap_owner(settings, password)
    say(
        f"role {OWNER} (may create roles, nothing more) owns database {database}; large objects revoked from "
        "PUBLIC. Next, as the owner: `rekap db migrate`, then `rekap db login set` for each login."
    )
    return 0


def login_set(settings: Settings, args: argparse.Namespace) -> int:
    group = Group(args.role)
    password = read_password(args, args.name)
    done = with_session(
        settings, lambda session: logins.set_login(session, args.name, group, password, args.connection_limit), "owner"
    )
    settings_text = ", ".join(f"{k}={v}" for k, v in done.settings.items()) or "none"
    limit = "none" if done.connection_limit < 0 else done.connection_limit
    say(
        f"{'created' if done.created else 'updated'} login {args.name} in role {group.role} "
        f"(connection limit {limit}; settings: {settings_text})"
    )
    return 0


def login_drop(settings: Settings, args: argparse.Namespace) -> int:
    dropped = with_session(settings, lambda session: session.drop_login(args.name), "owner")
    say(f"dropped login {args.name}" if dropped else f"there is no login {args.name}")
    return 0 if dropped else 3


def login_list(settings: Settings, _: argparse.Namespace) -> int:
    for login in with_session(settings, lambda session: session.list_logins(), "owner"):
        limit = "-" if login.connection_limit < 0 else str(login.connection_limit)
        say(f"{login.login:<24} {login.role:<16} limit {limit:<4} {' '.join(login.settings)}")
    return 0


def register(commands: SubParsers) -> None:
    db = commands.add_parser("db", help="the PostgreSQL schema")
    actions = db.add_subparsers(title="db commands", required=True, metavar="ACTION")
    add_command(
        actions,
        "migrate",
        migrate_command,
        "apply the SQL migrations not yet applied",
        reads=OWNER_DB,
        example="REKAP_OWNER_DATABASE_URL=postgresql://rekap_owner@db.example/rekap rekap db migrate",
    )
    add_command(
        actions,
        "status",
        status,
        "list applied and pending migrations (exit 3 if pending)",
        reads=OWNER_DB,
        example="rekap db status",
    )
    boot = add_command(
        actions,
        "bootstrap",
        bootstrap,
        "as a superuser, once: the owner role and its database",
        reads=("admin_database_url", "owner_database_url"),
        example="REKAP_ADMIN_DATABASE_URL=postgresql://postgres@db.example/postgres \\\n"
        "REKAP_OWNER_DATABASE_URL=postgresql://rekap_owner@db.example/rekap \\\n"
        "  rekap db bootstrap --password-env REKAP_OWNER_PASSWORD",
    )
    add_password_options(boot)
    login = actions.add_parser("login", help="logins of people and services (as the database's owner)")
    logins = login.add_subparsers(title="login commands", required=True, metavar="ACTION")
    setter = add_command(
        logins,
        "set",
        login_set,
        "create a login in one role, or bring it to exactly that role",
        reads=OWNER_DB,
        example="rekap db login set ana --role reader   # asks the password twice",
    )
    setter.add_argument("name", help="the login's name (lowercase letters, digits, _)")
    roles = "tabulator: the service; operator: operators' commands; reader: KPU; monitor: the metrics exporter"
    setter.add_argument("--role", required=True, choices=[g.value for g in Group], help=roles)
    setter.add_argument("--connection-limit", type=int, help="sessions at once (default: the role's)")
    add_password_options(setter)
    dropper = add_command(
        logins,
        "drop",
        login_drop,
        "remove a login (exit 3 if there is none)",
        reads=OWNER_DB,
        example="rekap db login drop ana",
    )
    dropper.add_argument("name")
    add_command(
        logins,
        "list",
        login_list,
        "the logins in Rekap's roles, with their limits and settings",
        reads=OWNER_DB,
        example="rekap db login list",
    )
