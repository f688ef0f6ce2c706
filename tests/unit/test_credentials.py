"""Credentials: no password in params.yaml, the password from the environment, every shown URL and driver error redacted."""

from __future__ import annotations

import logging
import sqlite3

import pandas as pd
import pytest
import sqlalchemy as sa

from flows import cli
from tasks.core.config import IngestParams, parse_config
from tasks.core.credentials import connection_url, redact_text, redact_url
from tasks.core.errors import ConfigError, InputError
from tasks.data import sources
from tasks.reporting import card_sections
from tasks.reporting.card_inputs import CardInputs

SECRET = "Tr0ub4dor&3@x/y"  # characters a URL must quote, so quoted forms are exercised too
BASE = {"data": {"target": "y"}}


def ingest_error(**ingest) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, "ingest": ingest})
    return str(err.value)


@pytest.mark.parametrize(
    "source",
    [
        "postgresql://reader:hunter2@db:5432/sales",  # user info
        "postgresql+psycopg://reader@db/sales?sslmode=require&password=hunter2",  # libpq's password query key
    ],
)
def test_a_url_with_a_password_is_refused_naming_the_key_without_repeating_the_password(source):
    msg = ingest_error(source=source, table="t")
    assert "ingest.source carries a password" in msg and "ingest.password_env" in msg
    assert "hunter2" not in msg


@pytest.mark.parametrize(
    "source",
    ["postgresql://reader:hunter2/sales", "postgresql:/reader:hunter2@db/sales", "postgresql://reader:hunter2@db:port/sales"],
)
def test_a_malformed_url_is_a_config_error_naming_the_key_and_showing_only_the_scheme(source):
    msg = ingest_error(source=source, table="t")
    assert "ingest.source" in msg and "not a valid SQLAlchemy URL" in msg and "'postgresql:...'" in msg
    assert "hunter2" not in msg


def test_password_env_must_be_a_variable_name_and_is_not_echoed():
    msg = ingest_error(source="postgresql://reader@db/sales", table="t", password_env="hunter2!")
    assert "ingest.password_env is not an environment variable name" in msg and "hunter2" not in msg
    assert "ingest.password_env is set but ingest.source is a file path" in ingest_error(source="x.csv", password_env="PW")
    assert "needs ingest.table or ingest.query" in ingest_error(source="postgresql://reader@db/sales")


def test_a_clean_url_and_its_variable_load():
    cfg = parse_config(
        {**BASE, "ingest": {"source": "postgresql://reader@db:5432/sales", "table": "t", "password_env": "TABGATE_DB_PASSWORD"}}
    )
    assert cfg.ingest.is_sql and cfg.ingest.password_env == "TABGATE_DB_PASSWORD"


def test_connection_url_takes_the_password_from_the_environment_and_names_psycopg():
    url, secrets = connection_url("postgresql://reader@db:5432/sales", "PW", {"PW": SECRET})
    assert url.drivername == "postgresql+psycopg" and url.password == SECRET and secrets == [SECRET]
    assert SECRET not in str(url) and SECRET not in repr(url)  # SQLAlchemy hides it when the URL is shown
    assert connection_url("postgresql+psycopg2://reader@db/sales", None, {})[0].drivername == "postgresql+psycopg2"
    assert connection_url("sqlite:///x.db", None, {})[0].drivername == "sqlite"
    with pytest.raises(ConfigError, match="ingest.password_env: the environment variable PW is not set"):
        connection_url("postgresql://reader@db/sales", "PW", {})


def test_redact_url_hides_passwords_in_user_info_and_query_and_leaves_paths_alone():
    assert (
        redact_url("postgresql://reader:hunter2@db/sales?password=hunter2&sslmode=require")
        == "postgresql://reader:***@db/sales?password=%2A%2A%2A&sslmode=require"
    )
    assert redact_url("sample/hotel_bookings.csv.gz") == "sample/hotel_bookings.csv.gz"
    assert "hunter2" not in redact_url("postgresql:/reader:hunter2@db/sales")


def test_redact_text_removes_the_secret_and_its_url_quoted_forms():
    text = (
        f'invalid dsn: "password={SECRET} host=db" while connecting to '
        "postgresql://reader:Tr0ub4dor%263%40x%2Fy@db/sales and Tr0ub4dor%263%40x/y"
    )
    out = redact_text(text, [SECRET])
    assert "Tr0ub4dor" not in out and out.count("***") >= 2


def test_a_driver_error_that_quotes_the_password_is_redacted(monkeypatch):
    """Some drivers repeat the connection string in their errors (psycopg2: invalid dsn); the message must not."""

    class Refusing:
        def connect(self):
            raise sa.exc.OperationalError("connect", {}, Exception(f'invalid dsn: "user=reader password={SECRET}"'))

        def dispose(self):
            pass

    monkeypatch.setattr(sa, "create_engine", lambda url: Refusing())
    p = IngestParams(source="postgresql://reader@db:5432/sales", table="t", password_env="PW")
    with pytest.raises(InputError) as err:
        sources.read_sql_source(p, {"PW": SECRET})
    msg = str(err.value)
    assert "ingest.source postgresql+psycopg://reader:***@db:5432/sales" in msg and "invalid dsn" in msg
    assert "Tr0ub4dor" not in msg


def test_an_unknown_dialect_is_a_config_error():
    p = IngestParams(source="nosuchdb://reader@db/sales", table="t")
    with pytest.raises(ConfigError, match="cannot load the database driver"):
        sources.read_sql_source(p, {})


def test_sqlite_still_reads_and_the_snapshot_info_shows_the_redacted_source(tmp_path):
    db = tmp_path / "src.sqlite"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"a": [1, 2]}).to_sql("t", conn, index=False)
    info = sources.snapshot_source(IngestParams(source=f"sqlite:///{db}", table="t"), tmp_path / "data")
    assert info["source"] == f"sqlite:///{db}" and info["format"] == "sql"


def test_the_model_card_shows_the_source_redacted():
    section = card_sections.data_section(
        parse_config({**BASE, "ingest": {"source": "x.csv"}}).data, "postgresql://reader:hunter2@db/sales", None, CardInputs()
    )
    assert section.source == "postgresql://reader:***@db/sales"


def test_cli_exits_2_on_a_password_in_the_url_before_any_dvc_command(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        "data: {target: y}\ningest: {source: 'postgresql://reader:hunter2@db/sales', table: t}\n"
    )
    args = cli.build_parser().parse_args(["run", "--engine", "dvc"])
    with caplog.at_level(logging.ERROR, logger="tabgate"):
        assert cli.dispatch(args) == 2
    assert "ingest.source carries a password" in caplog.text and "hunter2" not in caplog.text
    assert not (tmp_path / "dvc.lock").exists()
