"""The network as an ONNX graph that takes raw features and returns class probabilities.

A model trained on a table takes its raw columns instead (``numeric`` with NaN, ``text``
with ``""`` for missing cells), encoded by the operators of :mod:`caviar.export.onnx_tables`.


``features (N, d)`` → Sub(mean) → Div(std) → [MatMul(W') → Add(b') → activation] per layer →
Softmax(axis = 1) → ``probabilities (N, C)``, in float32, opset 17, batch norm folded into
W' and b' (:mod:`caviar.export.plan`). Activations map to Relu, LeakyRelu(alpha = slope),
Tanh and Sigmoid. The class labels and feature names are stored as metadata
(``caviar.classes``, ``caviar.feature_names``, JSON lists).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from caviar.errors import InvalidArgument
from caviar.export.plan import Plan, inference_plan, writable

OPSET, IR_VERSION = 17, 8  # IR 8 is the version that goes with opset 17
INPUT, OUTPUT = "features", "probabilities"
_OPS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise InvalidArgument(
            "Exporting to ONNX needs the onnx package, which is not installed; "
            "pip install 'caviar-nn[onnx]'"
        ) from None
    return onnx


def build_graph(plan: Plan, members: list[tuple[Plan, float]] | None = None):
    """The checked ``onnx.ModelProto`` of ``plan``; with ``members`` (an ensemble's plans
    and weights; ``plan`` is the first one's), each member's nodes under the prefix
    ``m<i>/`` from the same inputs, then ``probabilities = Σ_i w_i p_i``."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def constant(name: str, value: np.ndarray, dtype=np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    opsets = [helper.make_opsetid("", OPSET)]
    if plan.prep is not None:
        from caviar.export.onnx_tables import ML_OPSET

        opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    if members is None:
        inputs = _member(plan, "", OUTPUT, nodes, constant, helper)
    else:
        weighted = []
        for i, (member, weight) in enumerate(members):
            p = f"m{i}/"
            inputs = _member(member, p, f"{p}probabilities", nodes, constant, helper)
            w = constant(f"{p}weight", np.array(weight))
            nodes.append(helper.make_node("Mul", [f"{p}probabilities", w], [f"{p}weighted"]))
            weighted.append(f"{p}weighted")
        nodes.append(helper.make_node("Sum", weighted, [OUTPUT]))
    C = plan.layers[-1].W.shape[1]
    graph = helper.make_graph(
        nodes,
        "caviar",
        inputs,
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", C])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=opsets, producer_name="caviar")
    model.ir_version = IR_VERSION
    props = {
        "caviar.classes": json.dumps([str(c) for c in plan.classes]),
        "caviar.feature_names": json.dumps(list(plan.feature_names)),
    }
    if plan.prep is not None:
        props["caviar.inputs"] = json.dumps([[c.name, c.kind] for c in plan.prep.columns])
    if members is not None:
        props["caviar.ensemble_weights"] = json.dumps([w for _, w in members])
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def _member(plan: Plan, prefix: str, output: str, nodes: list, constant, helper) -> list:
    """One network's nodes, names under ``prefix``, from the graph inputs to ``output``
    (its probabilities); returns the graph inputs it reads."""
    from onnx import TensorProto

    features = INPUT
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", plan.n_features])]
    if plan.prep is not None:  # a table: raw columns in, its encoding as operators
        from caviar.export.onnx_tables import encoding_nodes

        encoding, inputs, features = encoding_nodes(plan.prep, constant, helper, prefix)
        nodes.extend(encoding)

    def name(n: str) -> str:
        return f"{prefix}{n}"

    mean, std = constant(name("mean"), plan.mean), constant(name("std"), plan.std)
    nodes.append(helper.make_node("Sub", [features, mean], [name("centred")]))
    nodes.append(helper.make_node("Div", [name("centred"), std], [name("a0")]))
    a = name("a0")
    for i, layer in enumerate(plan.layers, 1):
        W, b = constant(name(f"W{i}"), layer.W), constant(name(f"b{i}"), layer.b)
        nodes.append(helper.make_node("MatMul", [a, W], [name(f"xw{i}")]))
        nodes.append(helper.make_node("Add", [name(f"xw{i}"), b], [name(f"z{i}")]))
        a = name(f"z{i}")
        if layer.activation is not None:
            attrs = {"alpha": layer.slope} if layer.activation == "leaky_relu" else {}
            nodes.append(helper.make_node(_OPS[layer.activation], [a], [name(f"a{i}")], **attrs))
            a = name(f"a{i}")
    nodes.append(helper.make_node("Softmax", [a], [output], axis=1))
    return inputs


def to_onnx(model, path) -> Path:
    """Write ``model`` (a :class:`caviar.model.Model`, or an
    :class:`~caviar.ensemble.Ensemble`: one graph) as an ONNX file at ``path``."""
    path = writable(path)
    onnx = _onnx()
    if hasattr(model, "models"):
        plans = [inference_plan(m) for m in model.models]
        graph = build_graph(plans[0], list(zip(plans, model.weights.tolist(), strict=True)))
    else:
        graph = build_graph(inference_plan(model))
    onnx.save(graph, str(path))
    return path


def onnx_probabilities(path, X, prep=None) -> np.ndarray:
    """Run the ONNX file at ``path`` on raw features ``X (N, d)`` with onnxruntime: ``(N, C)``.
    For a table's graph pass its ``prep``, and ``X`` as rows of its columns (a DataFrame,
    a ``{column: values}`` dict, a Table)."""
    try:
        import onnxruntime
    except ImportError:
        raise InvalidArgument(
            "Running an ONNX graph needs onnxruntime, which is not installed; "
            "pip install onnxruntime"
        ) from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if prep is not None:
        from caviar.export.onnx_tables import onnx_inputs

        return session.run([OUTPUT], onnx_inputs(prep, X))[0]
    return session.run([OUTPUT], {INPUT: np.asarray(X, dtype=np.float32)})[0]
