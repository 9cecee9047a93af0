"""docker-compose.yml runs the same roles as `pjs dev`, so Docker users get the whole service."""

from __future__ import annotations

import re
from pathlib import Path

from pjs.roles import ROLES

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_every_process_role_has_a_service_in_docker_compose() -> None:
    commands = re.findall(r'command: \["pjs", "run", "([a-z]+)"\]', COMPOSE_FILE.read_text())
    assert sorted(commands) == sorted(ROLES)
