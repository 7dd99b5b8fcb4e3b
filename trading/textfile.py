"""Opening a text file a user names (a news calendar, a backtest's trades): a regular file of bounded
size, or one line saying why not. A FIFO would block the reader forever and a device such as
/dev/zero would fill its memory; both are refused before a byte is read."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from trading.errors import InvalidValue


def _regular_fd(path: Path, what: str, limit: int) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, and is refused below
    except OSError as exc:
        raise InvalidValue(str(path), "", f"cannot read {what} ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidValue(str(path), "", f"not a regular file: {what} is read from a file")
        if info.st_size > limit:
            raise InvalidValue(str(path), "", f"{info.st_size:,} bytes: {what} is at most {limit:,}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: Path, what: str, limit: int) -> io.TextIOWrapper:
    """``path`` opened as UTF-8 text (a byte-order mark skipped, newlines as the csv module wants them),
    if it is a regular file of at most ``limit`` bytes; else ``InvalidValue`` naming ``what`` it was to be."""
    return open(_regular_fd(path, what, limit), newline="", encoding="utf-8-sig")  # noqa: SIM115 (the caller closes it)


def open_regular_bytes(path: Path, what: str, limit: int) -> io.BufferedReader:
    """``open_regular``, as bytes."""
    return open(_regular_fd(path, what, limit), "rb")  # noqa: SIM115
