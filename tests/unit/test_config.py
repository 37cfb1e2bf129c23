"""Settings: defaults mean the local stack; DATABASE_URL and REKAP_* override; secrets stay hidden."""

from __future__ import annotations

import pytest

from rekap.bootstrap import session_settings
from rekap.config import Settings, redact_url, with_database


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REKAP_DATABASE_URL", "REKAP_KAFKA_BOOTSTRAP", "REKAP_POSTGRES_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_local_stack() -> None:
    settings = Settings()
    assert settings.uses_local_kafka
    assert settings.uses_local_postgres
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.dsn == "postgresql://postgres@127.0.0.1:5432/rekap"
    assert settings.tally_topic == "tallies"


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
    settings = Settings()
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
