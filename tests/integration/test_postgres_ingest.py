"""A real PostgreSQL (tests/support/postgres.py): a table written with SQLAlchemy is read back by pandas through
a postgresql+psycopg:// URL, a wrong password is refused, and the server is gone after its context ends.

A smoke test of the fixture; the ingest step's own PostgreSQL test builds on it.
"""

from __future__ import annotations

import socket

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.support import missing_dependency
from tests.support.postgres import PostgresServer, find_pg_bindir, running_postgres

pytestmark = pytest.mark.integration


def test_psycopg_url_round_trips_a_table(postgres_server: PostgresServer):
    url = sa.make_url(postgres_server.url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    table = pd.DataFrame(
        {
            "booking": [1, 2, 3],
            "hotel": ["City", "Resort", "City"],
            "adr": [101.5, 88.0, None],
            "arrived": pd.to_datetime(["2020-01-01", "2020-02-15", "2020-03-31"]),
        }
    )
    try:
        with engine.begin() as conn:
            table.to_sql("smoke_bookings", conn, index=False)
        back = pd.read_sql_query(sa.text("select * from smoke_bookings order by booking"), engine)
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert back["arrived"].dtype.kind == "M" and back["adr"].isna().tolist() == [False, False, True]


def test_wrong_password_is_refused(postgres_server: PostgresServer):
    url = sa.make_url(postgres_server.url).set(drivername="postgresql+psycopg", password=postgres_server.password + "x")
    engine = sa.create_engine(url)
    try:
        with pytest.raises(sa.exc.OperationalError, match="password authentication failed"), engine.connect():
            pass
    finally:
        engine.dispose()


def test_server_is_stopped_and_removed_when_its_context_ends():
    bindir = find_pg_bindir()
    if bindir is None:
        missing_dependency("PostgreSQL is not installed")
    with running_postgres(bindir) as server:
        socket.create_connection((server.host, server.port), timeout=5).close()
        assert (server.folder / "data" / "postmaster.pid").is_file()
    assert not server.folder.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=5).close()
