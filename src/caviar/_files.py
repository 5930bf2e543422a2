"""Small helpers for the files caviar writes atomically (a temporary file renamed over the
target)."""

from __future__ import annotations

import os


def usual_mode(fd: int) -> None:
    """Give the open file ``fd`` the mode a plain ``open(path, "w")`` would: 0666 less the
    umask. ``tempfile.mkstemp`` makes its files 0600, which would stay on a model or report
    renamed into place, unreadable to the user's group and to a web server."""
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)
