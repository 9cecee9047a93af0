"""How a CLI command prints its rows: a table on a terminal; otherwise (a pipe, a file) whole values in
tab-separated lines, a header first, never cut to 80 columns and one line per row, whatever a value holds."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Final

from rich.console import Console
from rich.markup import escape
from rich.table import Table

_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f]")


def print_rows(console: Console, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not sys.stdout.isatty():
        for row in [columns, *rows]:
            print("\t".join(_CONTROLS.sub(" ", value) for value in row))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(escape(value) for value in row))
    console.print(table)
