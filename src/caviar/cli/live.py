"""What a training run shows on standard error: a progress bar, or learning curves as it goes.

Output goes to a rich console on standard error, so standard output stays clean for
``--json``. When standard error is not a terminal (a pipe, CI, tests) the reporter is quiet.
A reporter is a context manager told about each optimizer step and each finished epoch.
"""

from __future__ import annotations

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
    total_epochs: int, steps_per_epoch: int, steps: int = 0, live: bool = False, console=None
):
    """A reporter for a run of ``total_epochs`` that has already made ``steps`` steps."""
    console = console or stderr_console()
    if not console.is_terminal:
        return Quiet()
    kind = LiveCurves if live else ProgressBar
    return kind(console, total_epochs, steps_per_epoch, steps)


class Quiet:
    """Shows nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def step(self, steps: int) -> None:
        pass

    def epoch(self, epoch: int, history) -> None:
        pass


class ProgressBar(Quiet):
    """One bar over the epochs (advanced every step) with the last epoch's loss, validation
    accuracy and learning rate α."""

    def __init__(self, console: Console, total_epochs: int, steps_per_epoch: int, steps: int):
        self.steps_per_epoch = steps_per_epoch
        self.progress = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("loss {task.fields[loss]}  val acc {task.fields[val]}  α {task.fields[lr]}"),
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
        self.display.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.display.__exit__(*exc)

    def step(self, steps: int) -> None:
        self.progress.update(self.task, completed=steps / self.steps_per_epoch)

    def epoch(self, epoch: int, history) -> None:
        self.progress.update(self.task, completed=epoch + 1, **_fields(history))


class LiveCurves(ProgressBar):
    """The progress bar under two learning curves: training loss and validation accuracy."""

    def __init__(self, console: Console, total_epochs: int, steps_per_epoch: int, steps: int):
        super().__init__(console, total_epochs, steps_per_epoch, steps)
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
    """A block chart of ``values`` (the whole run, averaged into ``width`` columns), ``height``
    rows of eighth-blocks, with the largest and smallest value written on the right."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Text("\n".join([" " * width] * height), no_wrap=True)
    columns = [chunk.mean() for chunk in np.array_split(values, min(width, values.size))]
    low, high = min(columns), max(columns)
    span = high - low or 1.0
    levels = [round(1 + (c - low) / span * (height * 8 - 1)) for c in columns]
    rows = []
    for r in reversed(range(height)):
        cells = "".join(BLOCKS[min(max(level - 8 * r, 0), 8)] for level in levels)
        label = f"{high:.4g}" if r == height - 1 else f"{low:.4g}" if r == 0 else ""
        rows.append(f"{cells:<{width}} {label}")
    return Text("\n".join(rows), no_wrap=True, overflow="crop")


def _fields(history) -> dict:
    if history is None or not history.loss:
        return {"loss": "-", "val": "-", "lr": "-"}
    val = f"{float(history.val_accuracy[-1][0]):.4f}" if history.val_accuracy else "-"
    return {
        "loss": f"{float(history.loss[-1][0]):.4f}",
        "val": val,
        "lr": f"{float(history.lr[-1][0]):.3g}",
    }
