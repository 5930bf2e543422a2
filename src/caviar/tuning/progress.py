"""What the tuner tells the outside world (:class:`Reporter`, the one callback protocol) and
the view that draws it for the ``caviar tune`` command and ``caviar.tune()`` alike.

:class:`ConsoleReporter` is a :class:`Reporter` that draws on standard
error with rich: the tuner's one-line messages (the strategy and executor chosen, and why;
each round), then bars for the trials (the best so far and the divergences), the running
population's epochs, and the populations the executor has taken (done of submitted, retried,
per node). The bars are drawn on a terminal or in a notebook; elsewhere (a pipe, a log file)
only the messages are written.
"""

from __future__ import annotations

from caviar.tuning.study import Status, Trial


class Reporter:
    """What the tuner tells the outside world, as calls; no-ops here. Subclasses draw it."""

    def message(self, text: str) -> None: ...

    def trial_done(self, trial: Trial, done: int, total: int) -> None: ...

    def epoch_done(
        self, members: int, epoch: int, epochs: int, diverged: int, best_val_accuracy: float | None
    ) -> None:
        """A running population (or panda trial) of ``members`` finished ``epoch`` (from 0)."""

    def populations(self, running: int, done: int, retried: int, per_node: dict) -> None:
        """The executor's populations: ``running`` now, ``done`` and ``retried`` so far, and
        per node ``{node: {"running": n, "done": n, "retried": n}}``."""


class ConsoleReporter(Reporter):
    """The live view of a tune of ``total`` trials; a context manager around the run."""

    def __init__(self, total: int, console=None):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console or Console(stderr=True)
        shown = self.console.is_terminal or self.console.is_jupyter
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            disable=not shown,
        )
        self.task = self.progress.add_task("trials", total=total, status="")
        self.running = self.progress.add_task("running", total=1, status="", visible=False)
        self.pops = self.progress.add_task("populations", total=1, status="", visible=False)
        self.best: float | None = None
        self.best_acc: float | None = None
        self.diverged = 0
        self.retried = 0

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def message(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def epoch_done(self, members, epoch, epochs, diverged, best_val_accuracy) -> None:
        best = "—" if best_val_accuracy is None else f"{best_val_accuracy:.4f}"
        self.progress.update(
            self.running,
            completed=epoch + 1,
            total=epochs,
            visible=True,
            status=f"{members} members, epoch {epoch + 1}/{epochs}, top val_acc now {best}, "
            f"{diverged} diverged",
        )

    def populations(self, running: int, done: int, retried: int, per_node: dict) -> None:
        """``done`` of the ``done + running`` populations submitted so far (``running``
        counts those queued for a worker too)."""
        nodes = "; ".join(
            f"{node}: {c.get('running', 0)} to go, {c.get('done', 0)} done"
            + (f", {c['retried']} retried" if c.get("retried") else "")
            for node, c in sorted(per_node.items())
        )
        status = f"{running} training or queued, {retried} retried · {nodes}"
        self.progress.update(
            self.pops, completed=done, total=max(done + running, 1), visible=True, status=status
        )
        if retried > self.retried:  # worth a line of its own, in a log too
            self.retried = retried
            self.message(f"a population's worker was lost; started it again ({status})")

    def trial_done(self, trial, done: int, total: int) -> None:
        self.diverged += trial.status == Status.DIVERGED
        if trial.val_loss is not None and (self.best is None or trial.val_loss < self.best):
            self.best, self.best_acc = trial.val_loss, trial.val_accuracy
        best = "—" if self.best is None else f"lowest val_loss: val_acc {self.best_acc:.4f}"
        self.progress.update(
            self.task, completed=done, total=total, status=f"{best} · {self.diverged} diverged"
        )
