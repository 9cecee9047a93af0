"""The engine's core imports no I/O libraries: it can be tested and replayed anywhere."""

import subprocess
import sys

CORE_MODULES = ("engine.decider", "engine.state", "engine.conditions", "engine.validation", "engine.patient")
IO_MODULES = ("asyncpg", "aiokafka", "fastapi", "uvicorn")


def test_importing_the_core_pulls_in_no_io_library() -> None:
    script = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE_MODULES)
        + f"print(','.join(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
