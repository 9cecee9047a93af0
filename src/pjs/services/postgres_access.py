"""Who may connect to the local Postgres: SCRAM passwords on loopback only, and the service's two roles."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pjs.services.credentials import POSTGRES_BOOTSTRAP_USER, LocalCredentials
from pjs.services.processes import ServiceError

ROLES_SQL = Path(__file__).resolve().parents[3] / "infra" / "postgres" / "roles.sql"
HBA_CONFIG = """\
# Written by `pjs services up`: a password (SCRAM-SHA-256) for every connection, on loopback only.
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128      scram-sha-256
"""
RESET_HINT = "`pjs services reset` deletes the local data and starts over with passwords"


def refuse_unauthenticated_cluster(data_dir: Path, credentials_file: Path) -> None:
    """A data dir from before passwords (trust authentication), or one whose passwords are lost, is
    not started: nothing could tell which role may do what."""
    if not (data_dir / "PG_VERSION").exists():
        return
    hba = data_dir / "pg_hba.conf"
    rules = [line.split() for line in hba.read_text().splitlines() if line.strip() and line[0] != "#"]
    if any("trust" in rule for rule in rules):
        raise ServiceError(
            f"the local Postgres in {data_dir} was set up without passwords (trust); {RESET_HINT}"
        )
    if not credentials_file.exists():
        raise ServiceError(f"the local Postgres' passwords ({credentials_file}) are missing; {RESET_HINT}")


def write_password_file(path: Path, password: str, owner: tuple[int, int] | None) -> None:
    """The superuser's password for initdb --pwfile, readable only by whoever runs initdb."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(password + "\n")
    if owner is not None:
        os.chown(path, *owner)


def provision_roles(psql: str, host: str, port: int, credentials: LocalCredentials) -> None:
    """Create (or update the passwords of) pjs_migrator, pjs_app and pjs_worker, and database pjs;
    idempotent."""
    # The passwords go in on stdin, never on a command line another user could read in `ps`.
    script = (
        f"\\set migrator_password '{credentials.postgres_migrator_password}'\n"
        f"\\set app_password '{credentials.postgres_app_password}'\n"
        f"\\set worker_password '{credentials.postgres_worker_password}'\n"
    ) + ROLES_SQL.read_text()
    environment = {
        **os.environ,
        "PGPASSWORD": credentials.postgres_bootstrap_password,
        "PGCONNECT_TIMEOUT": "10",
    }
    command = [psql, "-X", "-q", "-h", host, "-p", str(port), "-U", POSTGRES_BOOTSTRAP_USER, "-d", "postgres"]
    result = subprocess.run(command, input=script, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"could not set up the local Postgres roles: {result.stderr.strip()}")
