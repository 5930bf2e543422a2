"""The report of one model: its configuration, its learning curves (loss, validation accuracy,
α per epoch), and on its test split the confusion matrix with per-class precision and recall."""

from __future__ import annotations

import numpy as np

from caviar.report.html import Page, plotly


def model_page(model, name: str = "model", dataset=None) -> Page:
    """The :class:`Page` of ``model``; ``dataset``: the rows to score (default: the test split
    of the data the model records, when it can be loaded)."""
    page = Page(f"caviar model report: {name}")
    h = model.history
    page.text(
        f"{len(model.feature_names) or model.net.sizes[0]} features, {len(model.classes)} "
        f"classes, {h.epochs} epochs trained, data {model.source.get('data', 'not recorded')}."
    )
    page.heading("Learning curves")
    page.figure(curves(h))
    rows, note = _scored_rows(model, dataset)
    page.heading("Confusion matrix and per-class precision and recall")
    if rows is None:
        page.text(note, note=True)
    else:
        with np.errstate(all="ignore"):  # a diverged model scores NaN, shown as such
            scores = model.evaluate(rows, split="all")
        page.text(f"{note}: accuracy {scores['accuracy']:.4f}, loss {scores['loss']:.4f}.")
        page.figure(confusion_figure(scores["confusion"], model.classes))
        page.table(
            ["class", "precision", "recall", "support"],
            per_class(scores["confusion"], model.classes),
        )
    page.heading("Configuration")
    page.table(["key", "value"], [[k, v] for k, v in model.config.to_dict().items()])
    return page


def curves(h):
    """Three panels over epochs 1…E: training and validation loss, validation accuracy, α."""
    go, make_subplots = plotly()
    fig = make_subplots(rows=1, cols=3, subplot_titles=("loss", "validation accuracy", "α"))
    epochs = np.arange(1, h.epochs + 1)
    lines = [
        ("training loss", h.loss, 1),
        ("validation loss", h.val_loss, 1),
        ("validation accuracy", h.val_accuracy, 2),
        ("α (learning rate)", h.lr, 3),
    ]
    for label, series, col in lines:
        if len(series):
            y = np.array(series, dtype=float).reshape(len(series), -1)[:, 0]
            fig.add_trace(go.Scatter(x=epochs[: len(y)], y=y, name=label, mode="lines"), 1, col)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(height=340, margin={"t": 40, "b": 40})
    return fig


def confusion_figure(confusion: np.ndarray, classes):
    """A heatmap of ``confusion (C, C)``: rows the true class, columns the predicted one."""
    go, _ = plotly()
    labels = [str(c) for c in classes]
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=labels,
            y=labels,
            colorscale="Blues",
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted", type="category")
    fig.update_yaxes(title_text="true", type="category", autorange="reversed")
    fig.update_layout(height=420, width=520, margin={"t": 20})
    return fig


def per_class(confusion: np.ndarray, classes) -> list[list]:
    """Rows ``[class, precision, recall, support]``: precision = C[j, j] / Σ_i C[i, j],
    recall = C[i, i] / Σ_j C[i, j] (None where the denominator is 0).

    >>> per_class(np.array([[3, 1], [0, 2]]), ["a", "b"])
    [['a', 1.0, 0.75, 4], ['b', 0.6666666666666666, 1.0, 2]]
    """
    C = np.asarray(confusion)
    predicted, true = C.sum(axis=0), C.sum(axis=1)
    rows = []
    for i, label in enumerate(classes):
        p = float(C[i, i] / predicted[i]) if predicted[i] else None
        r = float(C[i, i] / true[i]) if true[i] else None
        rows.append([str(label), p, r, int(true[i])])
    return rows


def _scored_rows(model, dataset):
    """The rows to score and a phrase naming them; ``(None, why)`` when there are none."""
    if dataset is not None:
        return dataset, f"{dataset.name} ({len(dataset)} rows)"
    src = model.source
    if not src.get("data"):
        return None, "The model does not record its data: no confusion matrix."
    from caviar import sources
    from caviar.errors import CaviarError

    try:
        test = sources.part(sources.load(src), model.config, "test")
    except CaviarError as err:
        return None, f"Its data could not be loaded ({err}): no confusion matrix."
    if not len(test):
        return None, "The model's split has no test rows (test_fraction = 0)."
    return test, f"{src['data']}, its test split ({len(test)} rows)"
