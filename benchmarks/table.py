"""The table's cells: medians over repetitions, formatted figures and rows with a goal."""

from __future__ import annotations

import statistics

ACCURACY_GOAL = 0.005  # caviar's best validation accuracy may trail the peer's by this much


def ok(results: list[dict]) -> list[dict]:
    """The successful results (records without a status, e.g. sub-records, count as such)."""
    return [r for r in results if r.get("status", "ok") == "ok"]


def med(results: list[dict], key: str, sub: str | None = None):
    vals = [r.get(key) if sub is None else r.get(key, {}).get(sub) for r in ok(results)]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def missing(results: list[dict]) -> str:
    """What the peer column says when there is no number."""
    if not results:
        return "not run"
    if any(r.get("status") == "not installed" for r in results):
        return "not installed"
    return "error"


class Row:
    def __init__(self, workload, caviar, peer="—", ratio="—", limit="—", goal="—", met=None):
        self.cells = [workload, caviar, peer, ratio, limit, goal]
        self.met = met

    def as_list(self) -> list[str]:
        return self.cells + [{True: "yes", False: "NO", None: "—"}[self.met]]


def fmt(x, spec: str, unit: str = "", none: str = "error") -> str:
    return none if x is None else f"{x:{spec}}{unit}"


def accuracy_row(label: str, caviar: list[dict], peer: list[dict]) -> Row:
    """The row comparing the best validation accuracy of a tune with its peer's (median over
    repetitions of the best over trials), met within ACCURACY_GOAL."""
    ca, pa = med(caviar, "best_val_accuracy"), med(peer, "best_val_accuracy")
    met = None if ca is None or pa is None else ca >= pa - ACCURACY_GOAL
    return Row(
        label,
        fmt(ca, ".4f"),
        fmt(pa, ".4f", "", missing(peer)),
        fmt(None if met is None else ca - pa, "+.4f", "", "—"),
        "—",
        f">= peer − {ACCURACY_GOAL}",
        met,
    )
