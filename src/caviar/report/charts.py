"""The study report's plotly figures. Each takes trials (``caviar.tuning.study.Trial``) and the
study's first-round space, and draws every searched dimension on its own scale: a ``log``
dimension on a log axis, a ``one_minus_log`` β as 1 − β on a log axis, a choice as
categories."""

from __future__ import annotations

import math

import numpy as np

from caviar.report.html import plotly, shown
from caviar.tuning.study import Status
from caviar.tuning.transform import encode, unit_span

SYMBOLS = {
    Status.FINISHED: "circle",
    Status.DIVERGED: "x",
    Status.PRUNED: "triangle-down",
    Status.FAILED: "square",
}
SHOWN = ("hidden", "optimizer", "schedule", "batch_size", "epochs", "seed")


def axis_value(dim, value):
    """The value as drawn: 1 − β for ``one_minus_log``, a label for a choice."""
    if dim.dist == "one_minus_log":
        return 1 - value
    if dim.dist == "choice":
        return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return value


def axis_title(dim) -> str:
    return f"1 − {dim.name}" if dim.dist == "one_minus_log" else dim.name


def axis_type(dim) -> str:
    if dim.dist == "choice":
        return "category"
    return "log" if dim.dist in ("log", "log_int", "one_minus_log") else "linear"


def hover(t, space) -> str:
    """A trial's configuration for a hover box: results, searched values, shape fields."""
    lines = [f"trial {t.id} (round {t.round + 1}), {t.status}"]
    lines.append(f"val_acc {shown(t.val_accuracy)}, val_loss {shown(t.val_loss)}")
    if t.seeds:  # --repeats: the mean over the seeds, each seed's figure
        each = ", ".join(shown(s["val_accuracy"]) for s in t.seeds)
        lines.append(f"mean over {len(t.seeds)} seeds (± {shown(spread(t))}): {each}")
    lines += [f"{d.name} = {shown(t.config.get(d.name))}" for d in space.free]
    lines += [f"{k} = {shown(t.config.get(k))}" for k in SHOWN if k in t.config]
    return "<br>".join(lines)


def spread(t) -> float | None:
    """The standard deviation of a repeated trial's validation accuracy over its seeds."""
    values = [s["val_accuracy"] for s in t.seeds or () if s["val_accuracy"] is not None]
    return float(np.std(values)) if len(values) > 1 else None


def slices(trials, space):
    """Validation accuracy against each searched dimension, one panel each (with
    ``--repeats``, the mean over the seeds with their spread as error bars)."""
    go, make_subplots = plotly()
    dims = space.free
    cols = min(3, len(dims))
    rows = math.ceil(len(dims) / cols)
    fig = make_subplots(
        rows=rows, cols=cols, horizontal_spacing=0.08, vertical_spacing=min(0.18, 0.6 / rows)
    )
    shown = [t for t in trials if t.status in SYMBOLS and t.status != Status.FAILED]
    errors = None
    if any(t.seeds for t in shown):
        errors = {"type": "data", "array": [spread(t) or 0 for t in shown], "thickness": 1}
    for j, dim in enumerate(dims):
        r, c = j // cols + 1, j % cols + 1
        fig.add_trace(
            go.Scatter(
                x=[axis_value(dim, t.config[dim.name]) for t in shown],
                y=[t.val_accuracy if t.val_accuracy is not None else 0 for t in shown],
                mode="markers",
                marker={
                    "color": [t.round + 1 for t in shown],
                    "colorscale": "Viridis",
                    "symbol": [SYMBOLS[t.status] for t in shown],
                    "size": 8,
                    "showscale": j == 0,
                    "colorbar": {"title": "round"},
                },
                text=[hover(t, space) for t in shown],
                hovertemplate="%{text}<extra></extra>",
                showlegend=False,
                error_y=errors,
            ),
            r,
            c,
        )
        fig.update_xaxes(type=axis_type(dim), title_text=axis_title(dim), row=r, col=c)
        fig.update_yaxes(title_text="val accuracy", row=r, col=c)
    fig.update_layout(height=330 * rows, margin={"t": 40})
    return fig


def parallel(trials, space):
    """Parallel coordinates of the finished trials: each dimension on its scale, then the
    validation loss and accuracy; lines coloured by validation accuracy."""
    go, _ = plotly()
    done = [t for t in trials if t.status == Status.FINISHED and t.val_accuracy is not None]
    axes = [_parallel_axis(d, [t.config[d.name] for t in done]) for d in space.free]
    axes.append({"label": "val_loss", "values": [t.val_loss for t in done]})
    axes.append({"label": "val_accuracy", "values": [t.val_accuracy for t in done]})
    line = {"color": [t.val_accuracy for t in done], "colorscale": "Viridis", "showscale": True}
    fig = go.Figure(go.Parcoords(line=line, dimensions=axes))
    fig.update_layout(height=380, margin={"l": 60, "r": 60, "t": 50})
    return fig


def _parallel_axis(dim, values) -> dict:
    x = [axis_value(dim, v) for v in values]
    if dim.dist == "choice":
        labels = sorted({str(v) for v in x})
        return {
            "label": dim.name,
            "values": [labels.index(str(v)) for v in x],
            "tickvals": list(range(len(labels))),
            "ticktext": labels,
        }
    if axis_type(dim) != "log":
        return {"label": dim.name, "values": x}
    logs = np.log10(np.array(x, dtype=float))
    lo, hi = (math.floor(logs.min()), math.ceil(logs.max())) if len(x) else (0, 1)
    ticks = list(range(lo, hi + 1))
    return {
        "label": f"{axis_title(dim)} (log)",
        "values": logs.tolist(),
        "tickvals": ticks,
        "ticktext": [f"1e{k}" for k in ticks],
    }


def importance(trials, space):
    """``(figure or None, text)``: permutation importance of a random forest fitted on the
    finished trials' unit-cube coordinates ``U (n, d)`` → validation loss."""
    done = [
        t
        for t in trials
        if t.status == Status.FINISHED and t.val_loss is not None and math.isfinite(t.val_loss)
    ]
    if len(done) < 6:
        return None, f"Too few finished trials ({len(done)}) for an importance estimate (6+)."
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    U = encode(space, [t.config for t in done])
    y = np.array([t.val_loss for t in done])
    forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=2, oob_score=True)
    forest.set_params(random_state=0).fit(U, y)
    result = permutation_importance(forest, U, y, n_repeats=10, random_state=0)
    share = np.clip(result.importances_mean, 0, None)
    share = share / share.sum() if share.sum() > 0 else share
    go, _ = plotly()
    names = [axis_title(d) for d in space.free]
    order = np.argsort(share)
    fig = go.Figure(go.Bar(x=share[order], y=[names[i] for i in order], orientation="h"))
    fig.update_layout(height=120 + 40 * len(names), xaxis_title="share of importance")
    text = (
        "Method: permutation importance (scikit-learn) of a 200-tree random forest fitted on "
        f"the {len(done)} finished trials' unit-cube coordinates of the searched dimensions "
        f"→ validation loss; the forest's out-of-bag R² is {forest.oob_score_:.2f} (near or "
        "below 0: the estimate says little)."
    )
    return fig, text


def rounds_unit(rounds, space):
    """Each round's range of each dimension, in the first round's unit coordinates: the
    coarse-to-fine zoom as nested intervals (1 = the whole original range)."""
    go, _ = plotly()
    fig = go.Figure()
    numeric = [d for d in space.free if d.dist != "choice"]
    for r, sp in rounds:
        lows, spans = [], []
        for dim in numeric:
            entry = sp.get(dim.name)
            lo, hi = (
                unit_span(dim, entry["low"], entry["high"])
                if isinstance(entry, dict)
                else (0.0, 1.0)
            )
            lows.append(lo)
            spans.append(max(hi - lo, 1e-3))
        fig.add_trace(
            go.Bar(
                y=[axis_title(d) for d in numeric],
                x=spans,
                base=lows,
                orientation="h",
                name=f"round {r + 1}",
                opacity=0.8,
            )
        )
    fig.update_layout(
        barmode="group",
        height=140 + 45 * len(numeric),
        xaxis={"title": "position in the original range (unit coordinates)", "range": [0, 1]},
    )
    return fig


def rounds_plane(trials, rounds, pair):
    """The first two numeric dimensions: each round's box on their scales, and the trials."""
    go, _ = plotly()
    a, b = pair
    fig = go.Figure()
    for r, sp in rounds:
        ea, eb = sp.get(a.name), sp.get(b.name)
        if not (isinstance(ea, dict) and isinstance(eb, dict)):
            continue
        xs = sorted(axis_value(a, v) for v in (ea["low"], ea["high"]))
        ys = sorted(axis_value(b, v) for v in (eb["low"], eb["high"]))
        fig.add_trace(
            go.Scatter(
                x=[xs[0], xs[1], xs[1], xs[0], xs[0]],
                y=[ys[0], ys[0], ys[1], ys[1], ys[0]],
                mode="lines",
                fill="toself",
                opacity=0.25,
                name=f"round {r + 1} region",
            )
        )
        inside = [t for t in trials if t.round == r and t.status in SYMBOLS]
        fig.add_trace(
            go.Scatter(
                x=[axis_value(a, t.config[a.name]) for t in inside],
                y=[axis_value(b, t.config[b.name]) for t in inside],
                mode="markers",
                marker={"symbol": [SYMBOLS[t.status] for t in inside], "size": 8},
                name=f"round {r + 1} trials",
                text=[f"trial {t.id}, {t.status}, val_acc {shown(t.val_accuracy)}" for t in inside],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.update_xaxes(type=axis_type(a), title_text=axis_title(a))
    fig.update_yaxes(type=axis_type(b), title_text=axis_title(b))
    fig.update_layout(height=460)
    return fig


def learning_curves(curves: dict):
    """Validation loss and accuracy per epoch of the trials in ``curves`` (id → metrics)."""
    go, make_subplots = plotly()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation loss", "validation accuracy"))
    for tid, metrics in curves.items():
        epochs = [m["epoch"] + 1 for m in metrics]
        for col, key in ((1, "val_loss"), (2, "val_accuracy")):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[m[key] for m in metrics],
                    mode="lines+markers",
                    name=f"trial {tid}",
                    legendgroup=str(tid),
                    showlegend=col == 1,
                ),
                1,
                col,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=360, margin={"t": 40})
    return fig


def time_split(spent):
    """Training against the rest of the workers' time (a :class:`~caviar.tuning.study.TimeSpent`),
    as worker-seconds, each labelled with its share."""
    go, _ = plotly()
    parts = [spent.training, spent.other]
    fig = go.Figure(
        go.Bar(
            x=parts,
            y=["training", "tuner's own work, idle workers"],
            orientation="h",
            text=[f"{v:.2f} s ({100 * spent.share(v):.0f} %)" for v in parts],
        )
    )
    unit = "seconds" if round(spent.workers, 2) == 1 else "worker-seconds"
    fig.update_layout(height=200, xaxis_title=unit, margin={"t": 20})
    return fig


def schedules(trials, segments: dict, space):
    """Population-based training: each finished member's hyperparameter schedule
    (``segments``: trial id → :class:`~caviar.tuning.pbt.Segment` list), one panel per explored
    dimension on its own scale, values against epochs as steps, coloured by the member's final
    validation accuracy."""
    from plotly.colors import sample_colorscale

    from caviar.tuning.pbt import explored

    go, make_subplots = plotly()
    dims = explored(space)
    done = [t for t in trials if t.id in segments and t.val_accuracy is not None]
    acc = [t.val_accuracy for t in done]
    low, high = (min(acc), max(acc)) if acc else (0.0, 1.0)
    fig = make_subplots(rows=len(dims), cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for t in sorted(done, key=lambda t: t.val_accuracy):  # the best drawn last, on top
        share = 0.5 if high == low else (t.val_accuracy - low) / (high - low)
        colour = sample_colorscale("Viridis", [share])[0]
        segs = segments[t.id]
        epochs = [g.start for g in segs] + [segs[-1].end]
        for i, dim in enumerate(dims):
            ys = [axis_value(dim, g.values[dim.name]) for g in segs]
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[*ys, ys[-1]],
                    mode="lines",
                    line={"shape": "hv", "color": colour, "width": 1.5},
                    text=f"trial {t.id}: val_acc {shown(t.val_accuracy)}; lineage "
                    + " ← ".join(str(g.trial) for g in segs[::-1]),
                    hovertemplate="%{text}<br>epoch %{x}: %{y:.4g}<extra></extra>",
                    showlegend=False,
                ),
                i + 1,
                1,
            )
            fig.update_yaxes(type=axis_type(dim), title_text=axis_title(dim), row=i + 1, col=1)
    fig.add_trace(  # the colour bar
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            marker={
                "color": [low, high],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "final val acc"},
            },
            showlegend=False,
            hoverinfo="skip",
        ),
        1,
        1,
    )
    fig.update_xaxes(title_text="epoch", row=len(dims), col=1)
    fig.update_layout(height=220 * len(dims) + 80, margin={"t": 30})
    return fig
