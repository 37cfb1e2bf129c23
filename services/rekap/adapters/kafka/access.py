"""How a client reaches the broker and who it is there: the bootstrap servers, and the SASL/SCRAM
principal (with TLS when the broker has certificates). One object for every Kafka client Rekap makes.
Also the roles a user may have and the names their ACLs are about (security.py sets them; kept here,
light, so that what only names a role does not load confluent-kafka)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

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
