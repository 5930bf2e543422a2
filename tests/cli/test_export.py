"""``caviar export``: the ONNX file and its check line, the PyTorch text, and the errors."""

from __future__ import annotations

import sys

import numpy as np

from caviar.export import onnx_probabilities
from caviar.model import Model
from tests.extras import require


def _model(cli, tmp_path):
    path = tmp_path / "m.npz"
    cli("train --data iris --hidden 8 --epochs 3 --save", path)
    return path


def test_onnx_export_and_its_agreement_line(cli, tmp_path):
    require("onnx")
    require("onnxruntime")
    path = _model(cli, tmp_path)
    out = cli("export", path, "--onnx", tmp_path / "m.onnx").stdout
    assert "input 'features' (N, 4) raw, output 'probabilities' (N, 3)" in out
    diff = float(out.split("max |p_onnx - p_caviar| = ")[1].split()[0])
    assert diff < 1e-5
    X = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    got = onnx_probabilities(tmp_path / "m.onnx", X)
    assert np.abs(got - Model.load(path).predict_proba(X)).max() < 1e-5


def test_errors_are_one_line_with_status_2(cli, tmp_path, monkeypatch):
    path = _model(cli, tmp_path)
    err = cli("export", path, code=2).stderr
    assert err == "caviar: error: Say where to export: --onnx PATH and/or --torch PATH.\n"
    err = cli("export", tmp_path / "missing.npz", "--onnx", tmp_path / "x.onnx", code=2).stderr
    assert err.startswith("caviar: error: ") and err.count("\n") == 1
    for flag in ("--onnx", "--torch"):
        err = cli("export", path, flag, tmp_path / "no" / "m.x", code=2).stderr
        assert err == (
            f"caviar: error: Cannot write {tmp_path / 'no' / 'm.x'}: the folder "
            f"{tmp_path / 'no'} does not exist; create it first.\n"
        )
    monkeypatch.setitem(sys.modules, "torch", None)
    err = cli("export", path, "--torch", tmp_path / "m.pt", code=2).stderr
    assert err == (
        "caviar: error: Exporting to PyTorch needs torch, which is not installed; "
        "pip install 'caviar-nn[torch]'\n"
    )
