"""Separate role processes for scenarios that need them (e.g. `pjs run relay` against a sandbox).

A scenario that measures processes rather than libraries starts them with `role_process`, pointed at its
sandbox with `Sandbox.role_environment`; each is stopped by its own pid, gently first, within a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence

_STOP_SECONDS = 15


@contextlib.asynccontextmanager
async def role_process(
    arguments: Sequence[str], environment: Mapping[str, str], *, own_session: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `python <arguments>` (e.g. ["-m", "pjs.cli", "run", "relay"]) with extra environment variables;
    `own_session` starts it in a session of its own, as `pjs dev` starts the api's (`in_own_cpu_group`)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *arguments,
        env={**os.environ, **environment},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=own_session,
    )
    try:
        yield process
    finally:
        await stop(process)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (roles finish their current work and exit), then SIGKILL if it takes too long."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), _STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
