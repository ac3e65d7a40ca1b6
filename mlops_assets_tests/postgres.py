"""A real throwaway PostgreSQL server on 127.0.0.1 (Debian's postgresql package), for storage tests.

initdb into a temp dir, `pg_ctl start` on a free port with password (scram) auth over TCP, one
database created, `pg_ctl stop` at the end. PostgreSQL refuses to run as root, so when the tests run
as root the server runs as the `postgres` system user (runuser) in a directory chowned to it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    username: str
    password: str
    db_name: str

    def postgres_db_config(self) -> dict[str, object]:
        """The `postgres_db` block of a dagster.yaml storage section (driver named, as in deploy/)."""
        return {
            "scheme": "postgresql+psycopg2",
            "hostname": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "db_name": self.db_name,
        }


def _bin_dir() -> Path | None:
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def postgres_unavailable() -> str | None:
    """Why a local PostgreSQL cannot start here (None when it can)."""
    if _bin_dir() is None:
        return f"no {PG_ROOT}/*/bin/initdb (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' system user to run the server as"
        if not shutil.which("runuser"):
            return "running as root and runuser is missing"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")


@contextmanager
def running_postgres(db_name: str = "dagster", fsync: bool = False) -> Iterator[PgServer]:
    """Start a fresh cluster, create `db_name`, yield its address, always stop and delete it.

    Tests run without fsync (speed); a benchmark passes ``fsync=True`` to pay what production pays."""
    reason = postgres_unavailable()
    if reason:
        raise RuntimeError(reason)
    bindir = _bin_dir()
    assert bindir is not None
    workdir = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    data, sockets, log = workdir / "data", workdir / "sock", workdir / "server.log"
    sockets.mkdir()
    user, password = "dagster", secrets.token_urlsafe(16)
    pwfile = workdir / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (workdir, sockets, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    started = False
    try:
        try:
            _run(
                [str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
                 "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                "initdb",
            )  # fmt: skip
            options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
            if not fsync:
                options += " -c fsync=off -c full_page_writes=off"
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "30", "start"],
                 "pg_ctl start")  # fmt: skip
            started = True
            _run(
                [str(bindir / "createdb"), "-h", str(sockets), "-p", str(port), "-U", user, db_name],
                "createdb",
            )
        except RuntimeError as exc:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{exc}\n--- server log ---\n{tail}") from exc
        yield PgServer("127.0.0.1", port, user, password, db_name)
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], "pg_ctl stop")
        shutil.rmtree(workdir, ignore_errors=True)
