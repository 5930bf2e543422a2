"""Ctrl-C and SIGTERM: the one way a command is asked to stop (:class:`StopRequest`)."""

from __future__ import annotations

import signal
import threading


class Stopped(BaseException):
    """A signal stopped the work at once (named by ``signal``, e.g. ``SIGINT``)."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal = signal_name


class StopRequest:
    """While active (a context manager, in the main thread), SIGINT and SIGTERM ask the work
    to stop; ``reason`` names the signal.

    ``at_once=False`` (training): the first signal only sets ``reason``, which the training
    loop reads after every step (``stop(steps)``), so the run stops between two steps and
    its checkpoint resumes exactly; a second signal raises KeyboardInterrupt, for a user who
    does not want to wait. ``at_once=True`` (a tune, whose populations may train in other
    processes): the first signal raises :class:`Stopped` where the driver is, and further
    signals are ignored while it unwinds (finished trials are in the study, running
    populations in their checkpoints). ``after_steps``: a hidden test hook that stops as if
    signalled once training has taken that many steps.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, after_steps: int | None = None, *, at_once: bool = False):
        self.reason: str | None = None
        self.after_steps = after_steps
        self.at_once = at_once
        self._previous: dict = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        if self.at_once:
            for s in self.SIGNALS:
                signal.signal(s, signal.SIG_IGN)  # the way out is not to be interrupted again
            self.reason = signal.Signals(signum).name
            raise Stopped(self.reason)
        if self.reason is not None:
            raise KeyboardInterrupt  # a second signal: the user does not want to wait
        self.reason = signal.Signals(signum).name

    def __call__(self, steps: int) -> bool:
        """Whether training should stop now, after ``steps`` steps."""
        if self.after_steps is not None and steps >= self.after_steps and self.reason is None:
            self.reason = f"--interrupt-after {self.after_steps}"
        return self.reason is not None
