"""A private PostgreSQL cluster for the fault tests: one a test may stop, kill and start again.

The shared server on 127.0.0.1:5432 is never touched. :class:`PgCluster` runs ``initdb``
into a fresh directory under /tmp (owned by the ``postgres`` OS user: PostgreSQL refuses to
run as root, and the tests do run as root here, so every server binary goes through
``runuser -u postgres`` when the test is root) and ``pg_ctl start`` on a free port of
``PG_PORTS``, listening on 127.0.0.1 only with trust authentication. It is stopped by the
postmaster's PID (read from ``postmaster.pid``) and its directory removed, whatever the test
did; the ``pg_cluster`` fixture guarantees that at teardown even when the test fails.

The binaries are those of the newest /usr/lib/postgresql/<version>/bin (or PG_BIN). Missing
binaries skip the test, or fail it under CI=true (as tests/conftest.py does for PostgreSQL).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import IN_CI

#: The ports this branch's tests may listen on (a free one is picked at random).
PG_PORTS = range(23100, 23400)


def pg_bin() -> Path | None:
    """The directory of ``initdb``/``pg_ctl``/``postgres``, or None."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def free_port(ports: range = PG_PORTS) -> int:
    """A port of ``ports`` nothing listens on at 127.0.0.1 (tried in random order)."""
    import random

    candidates = list(ports)
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


class PgCluster:
    """``initdb`` + ``pg_ctl start`` on 127.0.0.1:<port>; :meth:`stop`/:meth:`start` at will."""

    def __init__(self, bindir: Path, port: int | None = None):
        self.bindir = bindir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vgw-faults-pg-"))
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        # Small and fast: a throw-away cluster on a shared machine, durability not wanted.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nshared_buffers = 32MB\n"
                       "max_connections = 60\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\n")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def pid(self) -> int | None:
        """The postmaster's PID while it runs (first line of postmaster.pid)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                         "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{self.logs()}")

    def stop(self, mode: str = "fast") -> None:
        """Stop by the postmaster's PID: ``fast`` (SIGINT: every session is ended at once, the
        server shuts down cleanly) or ``immediate`` (SIGQUIT: as a crash); waits until gone."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGINT if mode == "fast" else signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def destroy(self) -> None:
        """Stop the server (if it runs) and remove its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_cluster() -> Iterator[PgCluster]:
    """A started private cluster, destroyed on the way out whatever happened."""
    bindir = pg_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        message = "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql"
        if IN_CI:
            pytest.fail(message + " (CI=true requires them)")
        pytest.skip(message)
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster of the test's own (see the module docstring)."""
    with private_cluster() as cluster:
        yield cluster
