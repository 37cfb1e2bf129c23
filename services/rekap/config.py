"""The one settings object: every knob of Rekap, read from the environment (prefix `REKAP_`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rekap.access import KafkaAccess, Resources, Topic, checked_postgres_url, redact_url
from rekap.errors import ConfigError

# The Kafka release the local broker runs (and docker-compose.yml pins): one place to change it.
KAFKA_VERSION = "4.3.1"
# A photo of up to 2 MiB (tally contract v1, MAX_PHOTO_BYTES), its key and the batch's overhead.
PHOTO_RECORD_BYTES = 2 * 1024 * 1024 + 64 * 1024
DbUser = Literal["owner", "operator", "tabulator", "reader"]
KafkaPrincipal = Literal["admin", "tabulator", "terminals"]


class LocalServers(Protocol):
    """The servers to use where the settings name none, and how to log in to them: the local stack's
    (`rekap.devstack` makes one from the stack's folder; the settings know nothing else of the stack)."""

    def postgres_url(self, user: DbUser) -> str: ...

    def kafka(self, principal: KafkaPrincipal) -> KafkaAccess: ...


class Settings(BaseSettings):
    """Settings for every command. Unset servers mean "the local stack started by `rekap stack up`"."""

    model_config = SettingsConfigDict(env_prefix="REKAP_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path(".rekap"),
        description="Folder for the local stack: broker jars cache, broker and database data, logs.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port,...). Unset: the local broker.",
    )
    kafka_username: str | None = Field(
        default=None,
        description="This process's Kafka principal (SASL/SCRAM-SHA-512): the tabulator's for `tabulator run`, a "
        "terminals' one for `publish`, the admin for `kafka ...`. Unset: no authentication (or the local stack's).",
    )
    kafka_password: SecretStr | None = Field(default=None, description="The password of REKAP_KAFKA_USERNAME.")
    kafka_ca_file: str | None = Field(
        default=None,
        description="CA certificate file that signed the broker's certificate: set it and the connection uses TLS "
        "(SASL_SSL). Unset: SASL over plaintext, for a broker on a private network.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "REKAP_DATABASE_URL"),
        description="PostgreSQL URL of the tabulator: a login in role rekap_tabulator. Unset: the local stack's.",
    )
    operator_database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the operators' commands (master data, terminals, status, gaps): a login in "
        "role rekap_operator. Unset: DATABASE_URL, or the local stack's operator login.",
    )
    admin_database_url: SecretStr | None = Field(
        default=None,
        description="A superuser's PostgreSQL URL, for `db bootstrap` only (it makes the owner and its database); "
        "nothing else uses it.",
    )
    owner_database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the database's owner, for `db migrate` and `db login`: rekap_owner. Unset: "
        "DATABASE_URL, or the local stack's owner.",
    )
    tally_topic: str = Field(default="tallies", description="Topic the terminals publish to.")
    dead_letter_topic: str = Field(default="tallies.dead-letters", description="Where rejected records are copied.")
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of the topics, when Rekap creates them.")
    group_id: str = Field(default="rekap-tabulator", description="The tabulators' Kafka consumer group.")
    photo_topic: str = Field(default="photos", description="Topic the terminals publish the forms' photos to.")
    photo_group_id: str = Field(default="rekap-photos", description="The photo consumers' Kafka consumer group.")
    photo_s3_url: str | None = Field(
        default=None,
        description="s3://BUCKET/PREFIX: keep the photos in this S3-compatible object store, not REKAP_PHOTO_DIR.",
    )
    photo_s3_endpoint: str | None = Field(
        default=None, description="The object store's address (http://host:port); unset: AWS S3's."
    )
    photo_s3_access_key: str | None = Field(
        default=None, description="Its access key; unset: boto3's own (the environment, ~/.aws, an instance role)."
    )
    photo_s3_secret_key: SecretStr | None = Field(default=None, description="The secret of REKAP_PHOTO_S3_ACCESS_KEY.")
    photo_s3_region: str = Field(default="us-east-1", description="The object store's region.")
    photo_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the photo consumer's CPU priority is than the tabulator's (Unix nice): where "
        "they share cores, decoding photos waits for counting. 0: the same.",
    )
    photo_metrics_address: str = Field(
        default="127.0.0.1:8001",
        description="host:port of the photo consumer's /metrics, /healthz and /readyz; empty turns them off.",
    )
    photo_dir: Path | None = Field(
        default=None,
        description="Folder where `photos run` keeps every photo received, by digest (private: the site publishes "
        "the counted forms' photos from it). Unset: HOME/photos.",
    )
    verify_signatures: bool = Field(
        default=True, description="Verify each form's Ed25519 signature (off only for trusted internal topics)."
    )
    batch_max_records: int = Field(default=4000, ge=1, description="Records read and written per transaction.")
    terminal_refresh_s: float = Field(default=5.0, gt=0, description="How often the tabulator looks for new terminals.")
    session_timeout_ms: int = Field(
        default=10_000, ge=6_000, description="How soon the group gives a silent tabulator's partitions to others."
    )
    group_instance_id: str | None = Field(
        default=None,
        description="Static group membership: a name per replica, stable across its restarts ({hostname} is "
        "replaced by the host's name), so a restarted tabulator gets its partitions back at once. Unset: dynamic.",
    )
    db_statement_timeout_s: float = Field(default=60.0, gt=0, description="Longest statement of a tabulator session.")
    db_lock_timeout_s: float = Field(default=10.0, gt=0, description="Longest wait for a lock in a tabulator session.")
    db_idle_in_transaction_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A tabulator session idle that long inside a transaction is ended by the server.",
    )
    metrics_address: str = Field(
        default="127.0.0.1:8000",
        description="host:port of /metrics, /healthz and /readyz; port 0 takes a free one; empty turns them off.",
    )
    shutdown_timeout_s: float = Field(default=30.0, gt=0, description="How long a stop may take before it is forced.")
    election_key: Path | None = Field(
        default=None,
        description="The election key's private key file (PEM, mode 600) that signs election heads: `rekap audit key "
        "create` writes it. Unset: HOME/election-key.pem.",
    )

    kafka_version: str = Field(default=KAFKA_VERSION, description="Apache Kafka release of the local broker.")
    kafka_port: int = Field(default=9092, description="Local broker's client port (loopback).")
    kafka_controller_port: int = Field(default=9093, description="Local broker's KRaft controller port.")
    postgres_port: int = Field(default=5432, description="Local embedded PostgreSQL port (loopback).")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The least severe log line written."
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json for services and log shippers, console for people."
    )

    @cached_property
    def stack_dir(self) -> Path:
        """Where the local stack keeps its data between `down` and `up`."""
        return self.home.resolve() / "stack"

    @cached_property
    def cache_dir(self) -> Path:
        """Downloads that never change (the broker's jars)."""
        return self.home.resolve() / "cache"

    @property
    def photo_folder(self) -> Path:
        return self.photo_dir if self.photo_dir is not None else self.home.resolve() / "photos"

    def topics(self) -> list[Topic]:
        """Every topic Rekap makes: the forms', their dead letters', the photos' (records up to 2 MiB)."""
        return [
            Topic(self.tally_topic, self.topic_partitions),
            Topic(self.dead_letter_topic, self.topic_partitions),
            Topic(self.photo_topic, self.topic_partitions, PHOTO_RECORD_BYTES),
        ]

    def resources(self) -> Resources:
        """The names the Kafka users' ACLs are about."""
        return Resources(self.tally_topic, self.dead_letter_topic, self.group_id, self.photo_topic, self.photo_group_id)

    @property
    def election_key_file(self) -> Path:
        return self.election_key if self.election_key is not None else self.home / "election-key.pem"

    _local: LocalServers | None = PrivateAttr(default=None)

    def with_local_servers(self, local: LocalServers) -> Settings:
        """These settings, with the servers to use where they name none."""
        settings = self.model_copy()
        settings._local = local
        return settings

    def _local_servers(self, variable: str) -> LocalServers:
        if self._local is None:
            raise ConfigError(f"No server: set {variable}, or use the local stack (`rekap stack up`)")
        return self._local

    @property
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def uses_local_postgres(self) -> bool:
        return self.database_url is None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    def kafka(self, principal: KafkaPrincipal) -> KafkaAccess:
        """How to reach the broker as `principal`: the local stack's own, or REKAP_KAFKA_USERNAME's (one
        process, one principal: the deployment gives each its own)."""
        if self.uses_local_kafka:
            return self._local_servers("REKAP_KAFKA_BOOTSTRAP").kafka(principal)
        password = self.kafka_password.get_secret_value() if self.kafka_password else None
        return KafkaAccess(self.bootstrap_servers, self.kafka_username, password, self.kafka_ca_file)

    @classmethod
    def environment_variable(cls, field: str) -> str:
        """The environment variable a field is set by: its alias (the first, when several), else the prefix's."""
        alias = cls.model_fields[field].validation_alias if field in cls.model_fields else None
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return str(alias) if alias else f"{cls.model_config.get('env_prefix', '')}{field.upper()}"

    def dsn_for(self, user: DbUser) -> str:
        """The PostgreSQL URL `user` connects with (it holds a password: never log it, see `redact_url`)."""
        given = {"owner": self.owner_database_url, "operator": self.operator_database_url}.get(user)
        for url, variable in ((given, f"REKAP_{user.upper()}_DATABASE_URL"), (self.database_url, "DATABASE_URL")):
            if url is not None:
                return checked_postgres_url(url.get_secret_value(), variable)
        return self._local_servers("DATABASE_URL").postgres_url(user)

    @property
    def dsn(self) -> str:
        """The tabulator's PostgreSQL URL."""
        return self.dsn_for("tabulator")

    @property
    def dsn_for_display(self) -> str:
        return redact_url(self.dsn)
