"""Settings: defaults mean the local stack; DATABASE_URL and REKAP_* override; secrets stay hidden."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from rekap.access import checked_postgres_url, redact_url, with_database
from rekap.bootstrap import session_settings
from rekap.config import Settings
from rekap.devstack.secrets import StackSecrets, stack_settings
from rekap.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REKAP_DATABASE_URL", "REKAP_KAFKA_BOOTSTRAP", "REKAP_POSTGRES_PORT",
                 "REKAP_OPERATOR_DATABASE_URL", "REKAP_OWNER_DATABASE_URL", "REKAP_KAFKA_USERNAME",
                 "REKAP_KAFKA_PASSWORD", "REKAP_KAFKA_CA_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REKAP_HOME", str(tmp_path))


def test_defaults_are_the_local_stack() -> None:
    settings = stack_settings(Settings())
    assert settings.uses_local_kafka
    assert settings.uses_local_postgres
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.dsn == "postgresql://tabulator@127.0.0.1:5432/rekap", "no password before the first stack up"
    assert settings.tally_topic == "tallies"


def test_settings_alone_name_no_server_they_were_not_given() -> None:
    """The settings know nothing of the local stack: without a URL and without the stack's servers, a
    command is told what to set."""
    with pytest.raises(ConfigError, match="set DATABASE_URL"):
        Settings().dsn_for("operator")
    with pytest.raises(ConfigError, match="set REKAP_KAFKA_BOOTSTRAP"):
        Settings().kafka("admin")


def test_each_component_of_the_local_stack_has_its_own_login_and_password() -> None:
    settings = stack_settings()
    made = StackSecrets.new()
    StackSecrets.save(settings.stack_dir, made)
    urls = {user: urlsplit(settings.dsn_for(user)) for user in ("owner", "operator", "tabulator", "reader")}
    assert {user: url.username for user, url in urls.items()} == {
        "owner": "rekap_owner", "operator": "operator", "tabulator": "tabulator", "reader": "kpu"
    }  # fmt: skip
    assert len({url.password for url in urls.values()}) == 4
    assert urls["tabulator"].password == made.postgres["tabulator"]
    admin, terminals = settings.kafka("admin"), settings.kafka("terminals")
    assert (admin.username, admin.password) == ("admin", made.kafka["admin"])
    assert terminals.options()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert terminals.options()["security_protocol"] == "SASL_PLAINTEXT"
    assert made.kafka["admin"] not in repr(admin)


def test_component_urls_fall_back_to_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://tab:t@db/pilkada")
    monkeypatch.setenv("REKAP_OWNER_DATABASE_URL", "postgresql://rekap_owner:o@db/pilkada")
    settings = Settings()
    assert settings.dsn == "postgresql://tab:t@db/pilkada"
    assert settings.dsn_for("operator") == "postgresql://tab:t@db/pilkada"
    assert settings.dsn_for("owner") == "postgresql://rekap_owner:o@db/pilkada"
    assert "o@db" not in repr(settings)


def test_a_broker_elsewhere_takes_this_process_s_user_and_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKAP_KAFKA_BOOTSTRAP", "kafka-1:9093")
    monkeypatch.setenv("REKAP_KAFKA_USERNAME", "terminals-vendor-a")
    monkeypatch.setenv("REKAP_KAFKA_PASSWORD", "pw")
    access = Settings().kafka("terminals")
    assert (access.username, access.password, access.security_protocol) == (
        "terminals-vendor-a",
        "pw",
        "SASL_PLAINTEXT",
    )
    monkeypatch.setenv("REKAP_KAFKA_CA_FILE", certifi_or_system_ca())
    secure = Settings().kafka("tabulator")
    assert secure.security_protocol == "SASL_SSL"
    assert secure.options()["ssl_context"] is not None
    assert secure.librdkafka()["security.protocol"] == "sasl_ssl"
    monkeypatch.delenv("REKAP_KAFKA_USERNAME")
    assert Settings().kafka("tabulator").options() == {"bootstrap_servers": "kafka-1:9093"}, "no user: no SASL"


def certifi_or_system_ca() -> str:
    for path in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if Path(path).exists():
            return path
    return ssl.get_default_verify_paths().cafile or pytest.skip("no CA bundle on this machine")


def test_database_url_points_elsewhere_and_its_password_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://rekap:s3cret@db.example:6543/pilkada")
    settings = Settings()
    assert not settings.uses_local_postgres
    assert settings.dsn == "postgresql://rekap:s3cret@db.example:6543/pilkada"
    assert settings.dsn_for_display == "postgresql://rekap:***@db.example:6543/pilkada"
    assert "s3cret" not in repr(settings)


def test_ports_of_the_local_stack_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKAP_POSTGRES_PORT", "15432")
    monkeypatch.setenv("REKAP_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    settings = stack_settings()
    assert settings.dsn.endswith("127.0.0.1:15432/rekap")
    assert not settings.uses_local_kafka
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_a_wrong_setting_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKAP_POSTGRES_PORT", "five")
    with pytest.raises(ValueError, match="postgres_port"):
        Settings()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:1/d", "postgresql://u:***@h:1/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("postgresql://:pw@h/d?sslmode=require", "postgresql://***@h/d?sslmode=require"),
        (
            "postgresql://u:p%40w@a:1,b:2/d?target_session_attrs=read-write",
            "postgresql://u:***@a:1,b:2/d?target_session_attrs=read-write",
        ),
        ("postgresql://u:pw@Primary.Example:1/d", "postgresql://u:***@Primary.Example:1/d"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_with_database_keeps_server_and_options() -> None:
    url = "postgresql://u:pw@h:1/postgres?sslmode=require"
    assert with_database(url, "test_1") == "postgresql://u:pw@h:1/test_1?sslmode=require"


def test_the_tabulator_sessions_carry_timeouts_and_keepalives() -> None:
    settings = Settings(db_statement_timeout_s=2.5, db_lock_timeout_s=1, db_idle_in_transaction_timeout_s=3)
    server = session_settings(settings)
    assert (server["statement_timeout"], server["lock_timeout"], server["idle_in_transaction_session_timeout"]) == (
        "2500",
        "1000",
        "3000",
    )
    assert (
        int(server["tcp_keepalives_idle"]) * 1
        + int(server["tcp_keepalives_interval"]) * int(server["tcp_keepalives_count"])
        <= 90
    ), "a vanished client is noticed within about a minute and a half"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@a:5432,b:5433/rekap?target_session_attrs=read-write",
        "postgresql://u:p@a,b/rekap",
        "postgresql://u:p@[::1]:5432,b:5433/rekap",
    ],
)
def test_a_url_naming_a_primary_and_its_standby_is_taken(url: str) -> None:
    assert checked_postgres_url(url, "DATABASE_URL") == url


def test_each_host_s_port_is_checked() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL: its port is not a number"):
        checked_postgres_url("postgresql://u:p@a:5432,b:nope/rekap", "DATABASE_URL")
