"""How a client reaches a server and who it is there, below the settings (which make them) and the
adapters (which use them): the broker's bootstrap servers and SASL/SCRAM principal (with TLS when the
broker has certificates), one object for every Kafka client Rekap makes; the roles a Kafka user may have
and the names their ACLs are about (adapters/kafka/security.py sets them; kept here, light, so that what
only names a role does not load confluent-kafka); and PostgreSQL URLs: checked, redacted for display,
pointed at another database."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from rekap.errors import ConfigError

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SCRAM = "SCRAM-SHA-512"


class KafkaRole(StrEnum):
    TERMINALS = "terminals"
    TABULATOR = "tabulator"


@dataclass(frozen=True)
class Resources:
    """The names an ACL is about (from Settings: REKAP_TALLY_TOPIC, ...)."""

    tally_topic: str
    dead_letter_topic: str
    group_id: str
    photo_topic: str
    photo_group_id: str


DEFAULT_RECORD_BYTES = 1_048_588  # Kafka's own default: a batch of 1 MiB and its overhead


@dataclass(frozen=True)
class Topic:
    """A topic Rekap makes: its name, partitions, and the largest batch it takes."""

    name: str
    partitions: int
    max_message_bytes: int = DEFAULT_RECORD_BYTES


@dataclass(frozen=True)
class KafkaAccess:
    bootstrap_servers: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # TLS: the certificate authority the broker's certificate is checked against

    @property
    def security_protocol(self) -> SecurityProtocol:
        if self.username is None:
            return "PLAINTEXT"
        return "SASL_SSL" if self.ca_file else "SASL_PLAINTEXT"

    @property
    def principal(self) -> str:
        return f"User:{self.username}" if self.username else "User:ANONYMOUS"

    def as_user(self, username: str | None, password: str | None) -> KafkaAccess:
        return replace(self, username=username, password=password)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        if self.username is None:
            return {"bootstrap_servers": self.bootstrap_servers}
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "sasl_mechanism": SCRAM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password or "",
        }
        if self.ca_file:
            options["ssl_context"] = ssl.create_default_context(cafile=self.ca_file)
        return options

    def librdkafka(self) -> dict[str, str]:
        """The same, for confluent-kafka (librdkafka), which Rekap uses for ACLs and SCRAM users only."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        if self.username is not None:
            config |= {
                "security.protocol": self.security_protocol.lower(),
                "sasl.mechanism": SCRAM,
                "sasl.username": self.username,
                "sasl.password": self.password or "",
            }
            if self.ca_file:
                config["ssl.ca.location"] = self.ca_file
        return config


def checked_postgres_url(url: str, variable: str) -> str:
    """The URL if PostgreSQL's clients can read it; else a ConfigError naming the variable (not its value:
    it may hold a password)."""
    parts = urlsplit(url)
    # One host, or several (a primary and its standbys: postgresql://u:p@a:5432,b:5432/db), each with its port.
    for host in parts.netloc.rpartition("@")[2].split(","):
        try:
            urlsplit(f"//{host}").port  # noqa: B018 (reading it checks it)
        except ValueError:
            raise ConfigError(
                f"{variable}: its port is not a number (postgresql://user:password@host:port/database)"
            ) from None
    if parts.scheme not in ("postgresql", "postgres") or (not parts.hostname and "host=" not in parts.query):
        raise ConfigError(f"{variable} is not a PostgreSQL URL: postgresql://user:password@host:port/database")
    return url


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***`, fit for logs and terminals."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    hosts = parts.netloc.rpartition("@")[2]  # one host:port, or several (a primary and its standby)
    netloc = f"{parts.username}:***@{hosts}" if parts.username else f"***@{hosts}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
