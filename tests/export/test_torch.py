"""The PyTorch export (skipped without torch, which CI never installs): the printed
nn.Sequential, rebuilt from its text, loads the state_dict and gives caviar's probabilities."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from caviar.errors import InvalidArgument
from caviar.export import to_torch


@pytest.fixture
def torch():
    """torch, or a skip before any model is trained (CI never installs torch)."""
    return pytest.importorskip("torch")


def _rebuild(text: str, torch):
    """The ``nn.Sequential`` a user would write from the printed text."""
    modules = []
    for line in text.splitlines()[1:-1]:
        kind, args = re.fullmatch(r"\s*\(\d+\): (\w+)\((.*)\)", line).groups()
        if kind == "Linear":
            n_in, n_out = (int(v) for v in re.findall(r"features=(\d+)", args))
            modules.append(torch.nn.Linear(n_in, n_out))
        elif kind == "LeakyReLU":
            modules.append(torch.nn.LeakyReLU(float(re.search(r"slope=([\d.e-]+)", args)[1])))
        elif kind == "Softmax":
            modules.append(torch.nn.Softmax(dim=1))
        else:
            modules.append(getattr(torch.nn, kind)())
    return torch.nn.Sequential(*modules)


@pytest.mark.parametrize(
    "config",
    [
        {"activation": "relu"},
        {"activation": "leaky_relu"},
        {"activation": "tanh", "batchnorm": False},
        {"activation": "relu", "bn_position": "after"},
    ],
)
def test_the_state_dict_loads_into_the_printed_module(torch, trained, tmp_path, config):
    model, test = trained(**config)
    text = to_torch(model, tmp_path / "model.pt")
    module = _rebuild(text, torch)
    module.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    module.eval()
    with torch.no_grad():
        got = module(torch.from_numpy(np.array(test.X, dtype=np.float32))).numpy()
    # float32 through a different tanh, matmul and softmax than NumPy's: rounding of a few
    # float32 ulps of the logits, seen up to 1.4e-5 on a probability (the tanh network)
    assert np.abs(got - model.predict_proba(test.X)).max() < 5e-5


def test_without_torch_one_error_says_what_to_install(trained, tmp_path, monkeypatch):
    model, _ = trained()
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'caviar-nn\[torch\]'"):
        to_torch(model, tmp_path / "m.pt")


def test_an_ensemble_is_one_module_list_whose_weighted_sum_agrees(torch, trained, tmp_path):
    from caviar.ensemble import Ensemble
    from caviar.export.plan import inference_plan
    from caviar.export.torch_module import build_module

    (a, test), (b, _) = trained(seed=0), trained(seed=1, activation="tanh")
    ens = Ensemble([a, b], np.array([0.25, 0.75]), [1, 2])
    text = to_torch(ens, tmp_path / "ens.pt")
    assert text.startswith("ModuleList(") and "w = [0.25, 0.75]" in text
    modules = torch.nn.ModuleList([build_module(inference_plan(m)) for m in (a, b)])
    modules.load_state_dict(torch.load(tmp_path / "ens.pt", weights_only=True))
    x = torch.from_numpy(np.array(test.X, dtype=np.float32))
    with torch.no_grad():
        got = sum(w * m(x).numpy() for w, m in zip(ens.weights, modules, strict=True))
    assert np.abs(got - ens.predict_proba(test.X)).max() < 1e-5
