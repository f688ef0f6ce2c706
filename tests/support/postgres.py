"""A throwaway PostgreSQL server for tests: Debian's binaries, password authentication, loopback only.

`postgres_server` (session scope) runs `initdb` in a fresh temporary folder with scram-sha-256 and a
random password, starts the server on a free port of 127.0.0.1 with its socket in that folder, creates
a database and yields how to reach it. It always stops the server (`pg_ctl stop -m fast`) and removes
the folder. It never touches a cluster the `postgresql` package may have created or started (that one
lives in /var/lib/postgresql and listens on 5432 and /var/run/postgresql; this one uses neither).

initdb refuses to run as root, so under root the server programs run as the `postgres` account that
Debian's package creates, and the folder is handed to it. Client programs run as the caller.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support import missing_dependency

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_PROGRAMS = ("initdb", "pg_ctl", "pg_isready", "createdb")
SERVER_ACCOUNT = "postgres"
SUPERUSER = "tabgate"
DBNAME = "tabgate_test"
READY_ATTEMPTS = 120  # pg_isready attempts, half a second apart
COMMAND_TIMEOUT = 120  # seconds; a hung initdb or pg_ctl fails the setup instead of hanging the run


@dataclass(frozen=True)
class PostgresServer:
    """How to reach the test server; the password is left out of repr so it does not reach test output."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    folder: Path = field(repr=False)  # data, socket and log; removed when the server stops

    @property
    def url(self) -> str:
        """Return the plain SQLAlchemy URL `postgresql://user:password@host:port/dbname`."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname, safe='')}"
        )


def find_pg_bindir(pattern: str = PG_BIN_GLOB) -> Path | None:
    """Return the newest Debian PostgreSQL bin folder holding all of PG_PROGRAMS, or None."""
    found = [Path(p) for p in glob.glob(pattern) if all((Path(p) / prog).is_file() for prog in PG_PROGRAMS)]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1, default=None)


def server_account() -> pwd.struct_passwd | None:
    """Return the account the server runs as when we are root (None when we are not root: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        missing_dependency(
            f"running as root but there is no '{SERVER_ACCOUNT}' account to run initdb as "
            "(Debian's postgresql package creates it)"
        )


def as_account(cmd: list[str], account: pwd.struct_passwd | None) -> list[str]:
    """Return cmd wrapped to run as account (runuser, else su), or unchanged when account is None."""
    if account is None:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", account.pw_name, "--", *cmd]
    return ["su", account.pw_name, "-s", "/bin/sh", "-c", shlex.join(cmd)]


def run_checked(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, log: Path | None = None) -> None:
    """Run cmd; on a non-zero exit raise RuntimeError with its output (and the server log's tail)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        raise RuntimeError(
            f"{shlex.join(cmd)} exited {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}\n--- server log ---\n{tail}"
        )


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_private(path: Path, text: str, account: pwd.struct_passwd | None) -> None:
    """Write text to path readable by its owner only, owned by account when given."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def wait_until_ready(bindir: Path, port: int, cwd: Path, log: Path) -> None:
    """Return once pg_isready accepts 127.0.0.1:port; raise RuntimeError after READY_ATTEMPTS tries."""
    cmd = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-d", "postgres", "-t", "1"]
    for _ in range(READY_ATTEMPTS):
        if subprocess.run(cmd, cwd=cwd, timeout=COMMAND_TIMEOUT, check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(
        f"PostgreSQL on 127.0.0.1:{port} not ready after {READY_ATTEMPTS} pg_isready attempts\n"
        + log.read_text(errors="replace")[-3000:]
    )


def start_server(bindir: Path, data: Path, sockets: Path, port: int, log: Path, account: pwd.struct_passwd | None) -> None:
    """Start the server on 127.0.0.1:port with its socket in sockets (fsync off: the data is thrown away)."""
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
    run_checked(
        as_account([str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options], account),
        cwd=data.parent,
        log=log,
    )


def stop_server(bindir: Path, data: Path, account: pwd.struct_passwd | None) -> None:
    """Stop the server in data if it left a postmaster.pid (fast mode: roll back open work, do not wait)."""
    if (data / "postmaster.pid").exists():
        subprocess.run(
            as_account([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "60"], account),
            cwd=data.parent,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )


@contextmanager
def running_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """Run a fresh PostgreSQL from bindir in a temporary folder; yield its PostgresServer; stop and remove it."""
    account = server_account()
    root = Path(tempfile.mkdtemp(prefix="tabgate-pg-"))  # short path: unix socket paths are limited to ~100 bytes
    data, sockets, log = root / "data", root / "socket", root / "server.log"
    try:
        sockets.mkdir(mode=0o700)
        if account is not None:
            for path in (root, sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        password = secrets.token_urlsafe(24)
        write_private(root / "pwfile", password, account)
        run_checked(
            as_account(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    "--auth=scram-sha-256",
                    f"--pwfile={root / 'pwfile'}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                account,
            ),
            cwd=root,
        )
        (root / "pwfile").unlink()
        port = free_port()
        start_server(bindir, data, sockets, port, log, account)
        wait_until_ready(bindir, port, root, log)
        client_env = {**os.environ, "PGPASSWORD": password}  # the environment, never the command line
        run_checked(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DBNAME],
            cwd=root,
            env=client_env,
            log=log,
        )
        yield PostgresServer("127.0.0.1", port, SUPERUSER, password, DBNAME, root)
    finally:
        stop_server(bindir, data, account)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session; skips when PostgreSQL is absent, fails instead under CI=true."""
    bindir = find_pg_bindir()
    if bindir is None:
        missing_dependency(
            f"PostgreSQL is not installed (no {PG_BIN_GLOB}/initdb); "
            "apt-get install postgresql, or run tools/install-test-deps.sh as root"
        )
    with running_postgres(bindir) as server:
        yield server
