"""Figures without global state: matplotlib's object API on the Agg canvas (no display)."""

from __future__ import annotations

from caviar.errors import InvalidArgument

INSTALL = "pip install 'caviar-nn[experiments]'"


def require_matplotlib() -> None:
    """Raise one clear InvalidArgument when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InvalidArgument(
            f"The experiments draw their plots with matplotlib, which is not installed; {INSTALL}"
        ) from None


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.6):
    """``(fig, axes)``: a Figure on the Agg canvas with ``nrows × ncols`` axes (a flat list)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save(fig, path) -> None:
    """Write ``fig`` as a PNG at 80 dpi (a few tens of KB)."""
    fig.savefig(path, dpi=80)
