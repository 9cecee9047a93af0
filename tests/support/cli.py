"""Running `pjs ...` commands as an operator would, against a test's own database and broker."""

from __future__ import annotations

import os
from unittest.mock import patch

from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from pjs.cli import app
from pjs.settings import Settings, get_settings
from support.roles import role_env


def pjs_cli(settings: Settings, *arguments: str) -> Result:
    """`pjs <arguments>` with this test's settings, on a console wide enough for its tables."""
    environment = {name: value for name, value in role_env(settings).items() if name.startswith("PJS_")}
    wide = Console(width=400)  # rich fits tables to the terminal; CliRunner's is 80 columns wide
    with (
        patch.dict(os.environ, environment),
        patch("pjs.dead_letter_commands.console", wide),
        patch("pjs.key_commands.console", wide),
    ):
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(arguments))
        finally:
            get_settings.cache_clear()


def dead_letters_cli(settings: Settings, *arguments: str) -> Result:
    """`pjs dead-letters <arguments>`."""
    return pjs_cli(settings, "dead-letters", *arguments)
