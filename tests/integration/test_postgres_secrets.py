"""A PostgreSQL source with password authentication: the password lives only in the environment, and no file the
pipeline writes (project, .dvc/, dvc.lock, reports, registry, git history, the Prefect database) and no command
output holds it, after a successful run or after a refused connection.

Runs `tabgate ingest` and the whole pipeline (`tabgate run --engine dvc`) on 800 bookings loaded into a real
server (tests/support/postgres.py), then a wrong password through `tabgate ingest` and through the Prefect engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import REPO
from tests.integration.test_pipeline import env, make_project, sh, small_params
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration
PASSWORD_ENV = "TABGATE_DB_PASSWORD"
ROWS = 800


def tabgate(root: Path, *args: str, password: str | None, home: Path) -> subprocess.CompletedProcess:
    """Run the CLI in root with the password only in the environment (and a private Prefect home)."""
    environment = {k: v for k, v in env().items() if k not in (PASSWORD_ENV, "PREFECT_API_URL")}
    environment["PREFECT_HOME"] = str(home)
    if password is not None:
        environment[PASSWORD_ENV] = password
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], cwd=root, env=environment, capture_output=True, text=True, timeout=900
    )


def files_holding(secret: str, *folders: Path) -> list[str]:
    """Return every file under the folders whose bytes hold the secret (as is or URL-quoted)."""
    forms = {secret.encode(), quote(secret, safe="").encode()}
    return sorted(
        str(p)
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and any(f in p.read_bytes() for f in forms)
    )


@pytest.fixture(scope="module")
def pg(tmp_path_factory, postgres_server: PostgresServer) -> dict:
    """A scratch project whose ingest.source is the server's table, with no password in params.yaml."""
    root = make_project(tmp_path_factory.mktemp("pg_project"))
    hotel = pd.read_csv(REPO / "sample" / "hotel_bookings.csv.gz").sample(ROWS, random_state=1)
    engine = sa.create_engine(sa.make_url(postgres_server.url).set(drivername="postgresql+psycopg"))
    try:
        hotel.to_sql("bookings", engine, index=False)
    finally:
        engine.dispose()
    params = small_params()
    source = f"postgresql://{postgres_server.user}@{postgres_server.host}:{postgres_server.port}/{postgres_server.dbname}"
    params["ingest"].update(source=source, table="bookings", password_env=PASSWORD_ENV)
    params["evaluate"]["segment_min_rows"] = 20
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("git", "commit", "-qam", "PostgreSQL source", cwd=root)
    return {
        "root": root,
        "server": postgres_server,
        "source": source,
        "home": tmp_path_factory.mktemp("prefect_home"),
        "outputs": [],
    }


def test_ingest_and_the_whole_pipeline_run_with_the_password_only_in_the_environment(pg):
    root, password = pg["root"], pg["server"].password
    assert password not in (root / "params.yaml").read_text()
    ingest = tabgate(root, "-v", "ingest", password=password, home=pg["home"])
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    run = tabgate(root, "run", "--engine", "dvc", password=password, home=pg["home"])
    assert run.returncode == 0, run.stderr[-5000:]
    pg["outputs"] += [ingest.stdout, ingest.stderr, run.stdout, run.stderr]
    assert "Running stage 'promote'" in run.stdout
    assert pd.read_parquet(root / "artifacts" / "ingested.parquet").shape[0] == ROWS
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "run", cwd=root)

    card = (root / "reports" / "model_card.md").read_text()
    assert f"source: `{pg['source']}`" in card  # the URL as configured: user, host, port, database, no password
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert lock["stages"]["ingest"]["params"]["params.yaml"]["ingest"]["password_env"] == PASSWORD_ENV
    assert (root / "registry").is_dir() and (root / ".dvc" / "cache").is_dir()
    assert files_holding(password, root) == []
    assert [i for i, text in enumerate(pg["outputs"]) if password in text] == []


def test_a_wrong_password_fails_with_a_redacted_message_everywhere(pg):
    root, real = pg["root"], pg["server"].password
    wrong = "Wrong-" + real[::-1]
    ingest = tabgate(root, "-v", "ingest", password=wrong, home=pg["home"])
    assert ingest.returncode == 3, ingest.stderr[-3000:]
    assert "password authentication failed" in ingest.stderr
    assert f"ingest.source postgresql+psycopg://{pg['server'].user}:***@" in ingest.stderr  # psycopg, password hidden

    flow = tabgate(root, "-v", "run", "--force", password=wrong, home=pg["home"])  # the Prefect engine, temporary server
    assert flow.returncode == 3, flow.stderr[-5000:]
    assert "password authentication failed" in flow.stderr
    database = [p for p in pg["home"].rglob("*.db*") if p.is_file()]
    assert database and any(b"password authentication failed" in p.read_bytes() for p in database), (
        "the failure never reached the Prefect database, so searching it proves nothing"
    )

    missing = tabgate(root, "ingest", password=None, home=pg["home"])
    assert (
        missing.returncode == 2 and f"ingest.password_env: the environment variable {PASSWORD_ENV} is not set" in missing.stderr
    )

    outputs = pg["outputs"] + [p.stdout + p.stderr for p in (ingest, flow, missing)]
    for secret in (real, wrong):
        assert files_holding(secret, root, pg["home"]) == []
        assert [i for i, text in enumerate(outputs) if secret in text] == []
