"""Who runs an operator command: `--by NAME`, else the OS user; and how the audit log names them."""

from __future__ import annotations

import getpass

import typer

MAX_BY = 64
OPERATOR_PREFIX = "operator:"
"""The audit log's actor for a command's operator, `operator:<name>`: never mistaken for an API caller
(`key:<key id>`, `token:<sub>`) or a role (`api`, `engine`, ...), whatever name `--by` gives."""


def bounded(option: str, text: str, limit: int) -> str:
    """`text` stripped, if it is one line of 1 to `limit` characters; else a usage error (exit 2)."""
    text = text.strip()
    if not text or len(text) > limit or any(not character.isprintable() for character in text):
        raise typer.BadParameter(f"one line of 1 to {limit} printable characters", param_hint=option)
    return text


def operator_name(by: str | None) -> str:
    """The `--by` value, checked, else the OS user of the command (the CLI has no other identity)."""
    return bounded("--by", by or os_user(), MAX_BY)


def operator_actor(by: str | None) -> str:
    """The audit log's actor for the command's operator."""
    return OPERATOR_PREFIX + operator_name(by)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container's user) and no LOGNAME/USER
        return "unknown"


BY_HELP = "who runs this, for the audit log (default: the OS user)"
