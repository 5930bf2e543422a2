"""The exit statuses of the ``caviar`` command (the README's table is this one).

====  ==========================================================================
0     done
2     refused: a bad flag, data, model, checkpoint or study file; nothing was written
3     diverged: the run's loss or weights stopped being finite (nothing was saved over
      ``--save``), a tune in which no trial finished with a finite loss, or ``predict``
      with a model that diverged
130   interrupted by SIGINT (Ctrl-C): the checkpoint is written, the message says how to resume
143   interrupted by SIGTERM: the same
====  ==========================================================================
"""

from __future__ import annotations

import signal

OK = 0
ERROR = 2
DIVERGED = 3
SIGNALS = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


def for_signal(reason: str | None) -> int:
    """The status of a run stopped for ``reason`` (a signal's name, or a test hook's)."""
    return SIGNALS.get(reason or "", SIGNALS["SIGINT"])
