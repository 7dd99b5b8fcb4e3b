"""The ``octet`` command line: one module per command group, all on one typer app.

``common`` (the app, the console, the settings option), ``session`` (demo, run, generate,
check-config), ``desk`` (start, stop, status, halt, resume, flatten), ``exec`` (exec-serve, exec-status, halt,
resume), ``serve`` (serve, users), ``services``, ``db``, ``audit``, ``data`` (check, convert), ``report``, ``research`` (sweep), ``learn`` (learn, models).
"""

from __future__ import annotations

import sys

from cluster.cli import audit, data, db, desk, exec, learn, report, research, serve, services, session  # noqa: F401 - each registers its commands
from cluster.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    sys.exit(app())


