"""The engine's core imports no I/O libraries: it can be tested and replayed anywhere."""

import subprocess
import sys

CORE_MODULES = (
    "domain.decider",
    "domain.run_state",
    "domain.conditions",
    "domain.validation",
    "domain.patient_context",
)
IO_MODULES = ("asyncpg", "aiokafka", "fastapi", "uvicorn")


def test_importing_the_core_pulls_in_no_io_library() -> None:
    script = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE_MODULES)
        + f"print(','.join(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
