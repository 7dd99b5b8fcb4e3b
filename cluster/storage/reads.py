"""Reads that never hold up the desk's writes.

On SQLite every transaction of ``cluster.storage.store.make_engine``'s engines begins ``BEGIN IMMEDIATE``
(a writer takes the write lock at once), unless the connection carries ``READ_ONLY``: then it begins
deferred and, in WAL, takes no lock however long it lasts. The gateway, an audit walk, ``octet report``,
``octet audit story``, ``octet users list`` and ``octet learn`` read through ``reading(engine)``, so a
long read beside a running desk never makes a batch wait (past 30 s, fail with "database is locked").
On PostgreSQL the option changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Engine

READ_ONLY = "octet_read_only"


def reading(engine: Engine) -> Engine:
    """``engine`` for reads only: on SQLite its transactions begin deferred, so a reader never holds the
    write lock the desk's batches need. Nothing is to be written through it."""
    return engine.execution_options(**{READ_ONLY: True})
