"""What a training run shows on standard error: a progress bar, or learning curves as it goes,
and with ``--log-every N`` one line every N epochs that stays in the scrollback (Keras'
``loss ... val_loss ... val_accuracy ...``).

Output goes to a rich console on standard error, so standard output stays clean for
``--json``. When standard error is not a terminal (a pipe, CI, tests) the bar and the curves
are not drawn; the epoch lines are still written, as a log. A reporter is a context manager
told about each optimizer step and each finished epoch.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"  # BLOCKS[i]: a cell filled i eighths from the bottom


def stderr_console() -> Console:
    """The console every reporter writes to (tests replace it with a recording one)."""
    return Console(stderr=True)


def reporter(
    total_epochs: int,
    steps_per_epoch: int,
    steps: int = 0,
    live: bool = False,
    console=None,
    log_every: int = 0,
):
    """A reporter for a run of ``total_epochs`` that has already made ``steps`` steps; with
    ``log_every`` N > 0 it also writes one line every N epochs (and after the last)."""
    console = console or stderr_console()
    if not console.is_terminal:
        return Quiet(console, total_epochs, log_every)
    kind = LiveCurves if live else ProgressBar
    return kind(console, total_epochs, steps_per_epoch, steps, log_every)


class Quiet:
    """Draws nothing; writes the epoch lines of ``log_every`` (none when 0)."""

    def __init__(self, console: Console | None = None, total_epochs: int = 0, log_every: int = 0):
        self.console, self.total_epochs, self.log_every = console, total_epochs, log_every
        self._epoch_start = time.perf_counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def step(self, steps: int) -> None:
        pass

    def epoch(self, epoch: int, history) -> None:
        self.log(epoch, history)

    def log(self, epoch: int, history) -> None:
        """One line for ``epoch`` (from 0) when it is due."""
        now, seconds = time.perf_counter(), time.perf_counter() - self._epoch_start
        self._epoch_start = now
        every, last = self.log_every, epoch + 1 == self.total_epochs
        if every and self.console is not None and ((epoch + 1) % every == 0 or last):
            line = epoch_line(epoch, self.total_epochs, history, seconds)
            self.console.print(line, soft_wrap=True, highlight=False)


def _quiet_terminal():
    """Stop the terminal from echoing what is typed (``^C`` included) while a display is
    drawn; the settings to restore, or None. An echoed ``^C`` at the end of the display's
    full-width last line wraps it, the display then redraws one line too low, and its top
    border is left on the screen twice."""
    try:
        import termios

        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            return None
        before = termios.tcgetattr(fd)
        quiet = list(before)
        quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)  # the local modes
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
        return fd, before
    except (ImportError, OSError, ValueError, AttributeError):  # no tty, no termios
        return None


def _restore_terminal(saved) -> None:
    if saved is not None:
        import termios

        try:
            termios.tcsetattr(saved[0], termios.TCSANOW, saved[1])
        except OSError:
            pass


def epoch_line(epoch: int, total: int, history, seconds: float) -> str:
    """``epoch 3/100 - 0.12 s - loss 0.4321 - val_loss 0.5123 - val_accuracy 0.8425 - lr
    0.001``: member 0's figures of the finished ``epoch`` (from 0)."""
    parts = [f"epoch {epoch + 1}/{total}", f"{seconds:.2f} s"]
    parts.append(f"loss {float(history.loss[-1][0]):.4f}")
    if history.val_loss:
        parts.append(f"val_loss {float(history.val_loss[-1][0]):.4f}")
        parts.append(f"val_accuracy {float(history.val_accuracy[-1][0]):.4f}")
    parts.append(f"lr {float(history.lr[-1][0]):.3g}")
    return " - ".join(parts)


class ProgressBar(Quiet):
    """One bar over the epochs (advanced every step) with the last epoch's loss, validation
    loss and accuracy and learning rate α."""

    def __init__(
        self,
        console: Console,
        total_epochs: int,
        steps_per_epoch: int,
        steps: int,
        log_every: int = 0,
    ):
        super().__init__(console, total_epochs, log_every)
        self.steps_per_epoch = steps_per_epoch
        self.progress = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn(
                "loss {task.fields[loss]}  val loss {task.fields[val_loss]}  "
                "val acc {task.fields[val]}  α {task.fields[lr]}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(
            "train", total=total_epochs, completed=steps / steps_per_epoch, **_fields(None)
        )
        self.display = self.progress  # what is started and stopped around the run

    def __enter__(self):
        self._echo = _quiet_terminal()
        self.display.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.display.__exit__(*exc)
        _restore_terminal(self._echo)

    def step(self, steps: int) -> None:
        self.progress.update(self.task, completed=steps / self.steps_per_epoch)

    def epoch(self, epoch: int, history) -> None:
        self.progress.update(self.task, completed=epoch + 1, **_fields(history))
        self.log(epoch, history)


class LiveCurves(ProgressBar):
    """The progress bar under two learning curves: training loss and validation accuracy,
    against epochs."""

    def __init__(
        self,
        console: Console,
        total_epochs: int,
        steps_per_epoch: int,
        steps: int,
        log_every: int = 0,
    ):
        super().__init__(console, total_epochs, steps_per_epoch, steps, log_every)
        from rich.live import Live

        self.loss: list[float] = []
        self.val: list[float] = []
        self.display = Live(get_renderable=self.render, console=console, refresh_per_second=8)

    def epoch(self, epoch: int, history) -> None:
        self.loss = [float(v[0]) for v in history.loss]
        self.val = [float(v[0]) for v in history.val_accuracy]
        super().epoch(epoch, history)

    def render(self):
        # two panels side by side: each 4 columns of frame and up to 10 of axis label
        width = min(60, max(10, (self.display.console.width - 2) // 2 - 14))
        charts = Table.grid(padding=(0, 2))
        panels = [Panel(chart(self.loss, width), title="training loss", expand=False)]
        if self.val:
            val = chart(self.val, width)
            panels.append(Panel(val, title="validation accuracy", expand=False))
        charts.add_row(*panels)
        return Group(charts, self.progress)


def chart(values, width: int = 36, height: int = 6) -> Text:
    """A block chart of ``values`` (one per epoch, the whole run averaged into ``width``
    columns), ``height`` rows of eighth-blocks, with the largest and smallest value written
    on the right and an epoch axis under it (the first and last epoch, at their columns)."""
    values = np.asarray(values, dtype=np.float64)
    epochs = np.flatnonzero(np.isfinite(values)) + 1
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Text("\n".join([" " * width] * (height + 1)), no_wrap=True)
    chunks = np.array_split(np.arange(values.size), min(width, values.size))
    columns = [values[c].mean() for c in chunks]
    low, high = min(columns), max(columns)
    span = high - low or 1.0
    levels = [round(1 + (c - low) / span * (height * 8 - 1)) for c in columns]
    rows = []
    for r in reversed(range(height)):
        cells = "".join(BLOCKS[min(max(level - 8 * r, 0), 8)] for level in levels)
        label = f"{high:.4g}" if r == height - 1 else f"{low:.4g}" if r == 0 else ""
        rows.append(f"{cells:<{width}} {label}")
    rows.append(_epoch_axis(int(epochs[0]), int(epochs[-1]), len(columns), width))
    return Text("\n".join(rows), no_wrap=True, overflow="crop")


def _epoch_axis(first: int, last: int, columns: int, width: int) -> str:
    """``1         12 epoch``: the first epoch under the first column and the last under the
    last drawn one (``1-12`` where they do not fit apart), then the axis's name."""
    left, right = str(first), str(last)
    if first == last:
        axis = left
    elif columns > len(left) + len(right):
        axis = left + right.rjust(columns - len(left))
    else:
        axis = f"{left}-{right}"
    return f"{axis:<{width}} epoch"


def _fields(history) -> dict:
    if history is None or not history.loss:
        return {"loss": "-", "val_loss": "-", "val": "-", "lr": "-"}
    val = f"{float(history.val_accuracy[-1][0]):.4f}" if history.val_accuracy else "-"
    val_loss = f"{float(history.val_loss[-1][0]):.4f}" if history.val_loss else "-"
    return {
        "loss": f"{float(history.loss[-1][0]):.4f}",
        "val_loss": val_loss,
        "val": val,
        "lr": f"{float(history.lr[-1][0]):.3g}",
    }
