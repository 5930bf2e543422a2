"""The ONNX export: batch norm folded, standardisation inside, probabilities equal caviar's to
1e-5 on held-out digits under onnxruntime, for every activation, with and without batch norm
and dropout."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import caviar
from caviar.errors import InvalidArgument
from caviar.export import inference_plan, onnx_probabilities, to_onnx
from tests.extras import require

CASES = [
    {"activation": "relu"},
    {"activation": "leaky_relu", "keep_prob": 0.8},
    {"activation": "tanh", "batchnorm": False},
    {"activation": "sigmoid", "dtype": "float64"},
    {"activation": "relu", "batchnorm": False, "keep_prob": 0.9},
    {"activation": "relu", "bn_position": "after"},
    {"activation": "tanh", "bn_position": "after", "keep_prob": 0.9},
]
OPS = {"Sub", "Div", "MatMul", "Add", "Relu", "LeakyRelu", "Tanh", "Sigmoid", "Softmax"}


@pytest.mark.parametrize("config", CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_the_plan_computes_what_caviar_computes(trained, config):
    model, test = trained(**config)
    plan = inference_plan(model)
    expected = model.predict_proba(test.X)
    assert np.abs(plan.probabilities(test.X) - expected).max() < 1e-5
    # and with the standardisation folded into the first layer (the PyTorch export's form)
    folded = type(plan)(
        np.zeros_like(plan.mean),
        np.ones_like(plan.std),
        plan.folded_input(),
        plan.classes,
        plan.feature_names,
    )
    assert np.abs(folded.probabilities(test.X) - expected).max() < 1e-5


def test_batch_norm_folds_into_the_dense_layer_before_it(trained):
    model, _ = trained(activation="relu")
    plan = inference_plan(model)
    params, buffers = model.net.get_params(), model.net.buffers()
    scale = params["bn1.gamma"][0, 0] / np.sqrt(buffers["bn1.running_var"][0, 0] + model.net.bn_eps)
    np.testing.assert_allclose(plan.layers[0].W, params["dense1.W"][0] * scale, rtol=1e-6)
    b = -buffers["bn1.running_mean"][0, 0] * scale + params["bn1.beta"][0, 0]
    np.testing.assert_allclose(plan.layers[0].b, b, rtol=1e-5, atol=1e-6)
    assert [layer.activation for layer in plan.layers] == ["relu", "relu", None]


def test_batch_norm_after_the_activation_folds_into_the_dense_layer_after_it(trained):
    model, _ = trained(activation="relu", bn_position="after")
    plan = inference_plan(model)
    params, buffers = model.net.get_params(), model.net.buffers()
    scale = params["bn1.gamma"][0, 0] / np.sqrt(buffers["bn1.running_var"][0, 0] + model.net.bn_eps)
    shift = params["bn1.beta"][0, 0] - buffers["bn1.running_mean"][0, 0] * scale
    W2, b2 = params["dense2.W"][0], params["dense2.b"][0, 0]
    np.testing.assert_allclose(plan.layers[0].W, params["dense1.W"][0], rtol=1e-6)  # untouched
    np.testing.assert_allclose(plan.layers[1].W, scale[:, None] * W2, rtol=1e-5)
    np.testing.assert_allclose(plan.layers[1].b, b2 + shift @ W2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("config", CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_onnxruntime_gives_caviar_s_probabilities(trained, tmp_path, config):
    onnx = require("onnx")
    require("onnxruntime")
    model, test = trained(**config)
    path = to_onnx(model, tmp_path / "model.onnx")
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph, full_check=True)
    assert {node.op_type for node in graph.graph.node} <= OPS
    assert "BatchNormalization" not in {node.op_type for node in graph.graph.node}
    got = onnx_probabilities(path, test.X)  # raw features: the graph standardises them
    assert got.shape == (len(test), len(model.classes))
    assert np.abs(got - model.predict_proba(test.X)).max() < 1e-5
    props = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(props["caviar.classes"]) == [str(c) for c in model.classes]


def test_leaky_relu_keeps_its_slope(trained, tmp_path):
    onnx = require("onnx")
    model, _ = trained(activation="leaky_relu")
    graph = onnx.load(str(to_onnx(model, tmp_path / "m.onnx")))
    alphas = [a.f for n in graph.graph.node if n.op_type == "LeakyRelu" for a in n.attribute]
    assert alphas == pytest.approx([model.net.leaky_slope] * 2)


def test_a_population_is_refused():
    net = caviar.Network([4, 3, 2], K=2, backend="numpy")
    fake = SimpleNamespace(net=net, standardizer=None, classes=[0, 1], feature_names=())
    with pytest.raises(InvalidArgument, match="K = 2 members"):
        inference_plan(fake)


def test_without_onnx_one_error_says_what_to_install(trained, tmp_path, monkeypatch):
    model, _ = trained()
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'caviar-nn\[onnx\]'"):
        to_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
