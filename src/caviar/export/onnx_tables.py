"""A table's encoding as ONNX operators: raw columns in, the encoded matrix out.

Two inputs, one per kind: ``numeric (N, n_numeric)`` float32 with NaN where a cell is
missing, and ``text (N, n_text)`` strings with ``""`` where a cell is missing. Per input
column, in the model's order (:class:`~caviar.data.prep.Preprocessor`):

- numeric: ``IsNaN`` → ``Where`` (the training median) and, when the column had missing
  cells, the indicator ``Cast(IsNaN)``; with the quantile transform, ``Clip`` to the knots,
  the segment ``ReduceSum(x ≥ inner knots)`` and a linear interpolation between the two
  ``Gather``-ed knots (what ``np.interp`` computes);
- text: ``ai.onnx.ml.LabelEncoder`` (each kept level to its index, ``""`` to ``(missing)``'s
  when training had missing cells, anything else to ``(other)``) → ``OneHot``.

``Concat`` joins them into ``encoded (N, d)``, which the network graph standardises.
"""

from __future__ import annotations

import numpy as np

from caviar.data.prep import MISSING, Preprocessor
from caviar.data.table import CATEGORICAL, NUMERIC, as_table

NUMERIC_INPUT, TEXT_INPUT, ENCODED = "numeric", "text", "encoded"
ML_OPSET = 3


def encoding_nodes(prep: Preprocessor, constant, helper, prefix: str = "") -> tuple:
    """``(nodes, graph inputs, output)``: the nodes (names under ``prefix``) that compute
    the encoded matrix ``output`` from the two raw inputs; ``constant(name, array, dtype)``
    adds an initializer and returns its name."""
    from onnx import TensorProto

    nodes, pieces = [], []
    numeric = [c for c in prep.columns if c.kind == NUMERIC]
    text = [c for c in prep.columns if c.kind == CATEGORICAL]
    index = {id(c): i for group in (numeric, text) for i, c in enumerate(group)}
    for c in prep.columns:
        i, tag = index[id(c)], f"{prefix}c{len(pieces)}"
        source = NUMERIC_INPUT if c.kind == NUMERIC else TEXT_INPUT
        at = constant(f"{tag}_at", np.array([i]), np.int64)
        nodes.append(helper.make_node("Gather", [source, at], [f"{tag}_raw"], axis=1))
        if c.kind == NUMERIC:
            pieces += _numeric(c, tag, nodes, constant, helper)
        else:
            pieces.append(_one_hot(c, tag, nodes, constant, helper))
    nodes.append(helper.make_node("Concat", pieces, [f"{prefix}{ENCODED}"], axis=1))
    inputs = []
    if numeric:
        inputs.append(helper.make_tensor_value_info(NUMERIC_INPUT, TensorProto.FLOAT,
                                                    ["N", len(numeric)]))  # fmt: skip
    if text:
        inputs.append(helper.make_tensor_value_info(TEXT_INPUT, TensorProto.STRING,
                                                    ["N", len(text)]))  # fmt: skip
    return nodes, inputs, f"{prefix}{ENCODED}"


def _numeric(c, tag: str, nodes: list, constant, helper) -> list[str]:
    raw, missing = f"{tag}_raw", f"{tag}_missing"
    nodes.append(helper.make_node("IsNaN", [raw], [missing]))
    median = constant(f"{tag}_median", np.array([[c.median]]), np.float32)
    nodes.append(helper.make_node("Where", [missing, median, raw], [f"{tag}_filled"]))
    value = f"{tag}_filled"
    if c.knots:
        value = _quantile(c, tag, value, nodes, constant, helper)
    out = [value]
    if c.indicator:
        nodes.append(helper.make_node("Cast", [missing], [f"{tag}_indicator"], to=_float(helper)))
        out.append(f"{tag}_indicator")
    return out


def _float(helper) -> int:
    from onnx import TensorProto

    return TensorProto.FLOAT


def _quantile(c, tag: str, x: str, nodes: list, constant, helper) -> str:
    """``np.interp(x, knots, levels)`` for ``x (N, 1)``, as operators."""
    knots, levels = np.array(c.knots), np.array(c.levels)
    if len(knots) == 1:  # one distinct training value: every value maps to 0.5
        nodes.append(helper.make_node("Mul", [x, constant(f"{tag}_zero", np.zeros((1, 1)),
                                                          np.float32)], [f"{tag}_z"]))  # fmt: skip
        half = constant(f"{tag}_half", np.full((1, 1), 0.5), np.float32)
        nodes.append(helper.make_node("Add", [f"{tag}_z", half], [f"{tag}_q"]))
        return f"{tag}_q"
    lo, hi = (
        constant(f"{tag}_lo", knots[:1], np.float32),
        constant(f"{tag}_hi", knots[-1:], np.float32),
    )
    nodes.append(helper.make_node("Clip", [x, lo, hi], [f"{tag}_clip"]))
    xc = f"{tag}_clip"
    K = constant(f"{tag}_knots", knots, np.float32)
    L = constant(f"{tag}_levels", levels, np.float32)
    if len(knots) > 2:  # the segment: how many inner knots lie at or below x
        inner = constant(f"{tag}_inner", knots[None, 1:-1], np.float32)
        nodes.append(helper.make_node("GreaterOrEqual", [xc, inner], [f"{tag}_ge"]))
        nodes.append(helper.make_node("Cast", [f"{tag}_ge"], [f"{tag}_gei"], to=7))  # int64
        axes = constant(f"{tag}_axes", np.array([1]), np.int64)
        nodes.append(
            helper.make_node("ReduceSum", [f"{tag}_gei", axes], [f"{tag}_seg"], keepdims=1)
        )
    else:
        nodes.append(helper.make_node("Cast", [xc], [f"{tag}_segf"], to=7))
        zero = constant(f"{tag}_zeroi", np.zeros((1, 1)), np.int64)
        nodes.append(helper.make_node("Mul", [f"{tag}_segf", zero], [f"{tag}_seg"]))
    one = constant(f"{tag}_one", np.ones((1, 1)), np.int64)
    nodes.append(helper.make_node("Add", [f"{tag}_seg", one], [f"{tag}_seg1"]))
    for name, table, seg in (("k0", K, "seg"), ("k1", K, "seg1"), ("l0", L, "seg"),
                             ("l1", L, "seg1")):  # fmt: skip
        nodes.append(helper.make_node("Gather", [table, f"{tag}_{seg}"], [f"{tag}_{name}"]))
    for out, (a, b) in (("dx", ("clip", "k0")), ("dk", ("k1", "k0")), ("dl", ("l1", "l0"))):
        nodes.append(helper.make_node("Sub", [f"{tag}_{a}", f"{tag}_{b}"], [f"{tag}_{out}"]))
    nodes.append(helper.make_node("Div", [f"{tag}_dx", f"{tag}_dk"], [f"{tag}_t"]))
    nodes.append(helper.make_node("Mul", [f"{tag}_t", f"{tag}_dl"], [f"{tag}_tl"]))
    nodes.append(helper.make_node("Add", [f"{tag}_l0", f"{tag}_tl"], [f"{tag}_q"]))
    return f"{tag}_q"


def _one_hot(c, tag: str, nodes: list, constant, helper) -> str:
    keys = list(c.categories)
    values = list(range(len(keys)))
    if MISSING in keys:  # a missing cell arrives as ""
        keys.append("")
        values.append(keys.index(MISSING))
    other = len(c.categories)
    nodes.append(
        helper.make_node(
            "LabelEncoder",
            [f"{tag}_raw"],
            [f"{tag}_code"],
            domain="ai.onnx.ml",
            keys_strings=keys,
            values_int64s=values,
            default_int64=other,
        )
    )
    depth = constant(f"{tag}_depth", np.array([other + 1]), np.int64)
    on_off = constant(f"{tag}_onoff", np.array([0.0, 1.0]), np.float32)
    nodes.append(helper.make_node("OneHot", [f"{tag}_code", depth, on_off], [f"{tag}_oh3"]))
    axes = constant(f"{tag}_squeeze", np.array([1]), np.int64)
    nodes.append(helper.make_node("Squeeze", [f"{tag}_oh3", axes], [f"{tag}_onehot"]))
    return f"{tag}_onehot"


def onnx_inputs(prep: Preprocessor, X) -> dict[str, np.ndarray]:
    """The graph's raw inputs for rows ``X`` (a DataFrame, a ``{column: values}`` dict, a
    Table or an array of the input columns in order)."""
    table = as_table(X, prep.inputs, prep.kinds)
    numeric = [v for v, k in zip(table.values, table.kinds, strict=True) if k == NUMERIC]
    text = [v for v, k in zip(table.values, table.kinds, strict=True) if k == CATEGORICAL]
    feeds = {}
    if numeric:
        feeds[NUMERIC_INPUT] = np.stack(numeric, axis=1).astype(np.float32)
    if text:
        cells = [["" if x is None else x for x in v] for v in text]
        feeds[TEXT_INPUT] = np.array(cells, dtype=object).T.copy()
    return feeds
