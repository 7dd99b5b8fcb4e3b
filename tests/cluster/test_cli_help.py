"""`octet --help` at 80 columns wraps each command's description as a paragraph: no line of the
commands panel ends where the next line's first word would still have fitted (the docstrings' own
line breaks are not kept)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

BOX = "│"


def help_text(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    done = subprocess.run([sys.executable, "-m", "cluster.cli", *args, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_commands_panel_wraps_each_description_as_a_paragraph() -> None:
    out = help_text()
    panel = out[out.index("Commands"):].splitlines()[1:]
    rows = [line[1:line.rindex(BOX)] for line in panel if line.startswith(BOX)]
    assert len(rows) > 20, out
    width = len(rows[0])
    first_row = rows[0]
    name_end = first_row.index(" ", len(first_row) - len(first_row.lstrip()))
    indent = len(first_row) - len(first_row[name_end:].lstrip())  # where the descriptions start
    ragged = []
    for this, after in zip(rows, rows[1:], strict=False):
        if after[:indent].strip():  # the next row starts another command
            continue
        room = width - len(this.rstrip()) - 1
        first = after.split()[0]
        if len(first) < room - 1:
            ragged.append((this.rstrip(), first))
    assert not ragged, ragged

