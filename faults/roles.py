"""The roles as separate `pjs run <role>` processes of one scenario, signalled only by their pids."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pjs.roles import ROLES

_STOP_SECONDS = 20


@dataclass
class Role:
    name: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class RoleSet:
    """Every role process a scenario started; `kill` is a crash, `stop` a graceful SIGTERM."""

    environment: dict[str, str]
    log_dir: Path
    running: list[Role] = field(default_factory=list)

    def start(self, name: str) -> Role:
        assert name in ROLES, name
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pjs.cli", "run", name],
                env={**_outside_settings(), **self.environment},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        role = Role(name, process)
        self.running.append(role)
        return role

    def of(self, name: str) -> list[Role]:
        return [role for role in self.running if role.name == name]

    def kill(self, role: Role) -> None:
        """SIGKILL: no clean-up, no final commit; what a crash looks like."""
        if role.alive():
            role.process.send_signal(signal.SIGKILL)
        role.process.wait(timeout=10)
        self.running.remove(role)

    async def stop(self, role: Role) -> None:
        """SIGTERM, then SIGKILL if the role has not finished within the time limit."""
        if role.alive():
            role.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(role.process.wait, _STOP_SECONDS)
            except subprocess.TimeoutExpired:
                role.process.kill()
                role.process.wait(timeout=10)
        self.running.remove(role)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(role) for role in list(self.running)))

    def exited(self) -> list[str]:
        """Roles that ended on their own (the suite did not stop them), with their exit codes."""
        return [f"{role.name} exited {role.process.returncode}" for role in self.running if not role.alive()]


def _outside_settings() -> dict[str, str]:
    """This process's environment without its PJS_* settings: none of them may point a role elsewhere."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PJS_")}
