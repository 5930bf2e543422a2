"""The network as a PyTorch ``nn.Sequential`` and its ``state_dict``.

``Linear → activation → … → Linear → Softmax(dim=1)`` on raw features: the standardisation
is folded into the first Linear (``W / std``, ``b − (mean / std) W``) and batch norm into
each Linear before it (:mod:`caviar.export.plan`); PyTorch's ``Linear`` stores ``Wᵀ``.

The file is what ``torch.save(module.state_dict(), path)`` writes, the format a PyTorch user
loads: a dict of tensors, nothing of caviar's inside. ``torch.save`` wraps it in PyTorch's
own zip-and-pickle container; read it with ``torch.load(path, weights_only=True)``, which
accepts tensors only. Drop the last module (``module[:-1]``) for logits.
"""

from __future__ import annotations

import numpy as np

from caviar.errors import InvalidArgument
from caviar.export.plan import Plan, inference_plan, writable


def _torch():
    try:
        import torch
    except ImportError:
        raise InvalidArgument(
            "Exporting to PyTorch needs torch, which is not installed; "
            "pip install 'caviar-nn[torch]'"
        ) from None
    return torch


def build_module(plan: Plan):
    """The ``torch.nn.Sequential`` of ``plan`` with its weights (float32, eval mode)."""
    torch = _torch()
    nn = torch.nn
    modules = []
    for layer in plan.folded_input():
        linear = nn.Linear(*layer.W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W.T, np.float32)))
            linear.bias.copy_(torch.from_numpy(layer.b.astype(np.float32)))
        modules.append(linear)
        if layer.activation == "relu":
            modules.append(nn.ReLU())
        elif layer.activation == "leaky_relu":
            modules.append(nn.LeakyReLU(layer.slope))
        elif layer.activation == "tanh":
            modules.append(nn.Tanh())
        elif layer.activation == "sigmoid":
            modules.append(nn.Sigmoid())
    modules.append(nn.Softmax(dim=1))
    return nn.Sequential(*modules).eval()


def to_torch(model, path) -> str:
    """Write ``model``'s ``state_dict`` to ``path``; returns the ``nn.Sequential`` as text.

    An :class:`~caviar.ensemble.Ensemble` is one ``nn.ModuleList`` of its members'
    ``nn.Sequential``; its probabilities are ``Σ_i w_i · module[i](x)`` with the weights the
    returned text ends with."""
    path = writable(path)
    torch = _torch()
    if hasattr(model, "models"):
        module = torch.nn.ModuleList([build_module(inference_plan(m)) for m in model.models])
        torch.save(module.state_dict(), path)
        weights = ", ".join(f"{w:.17g}" for w in model.weights)
        return f"{module!r}\nprobabilities = Σ_i w_i · module[i](x), w = [{weights}]"
    module = build_module(inference_plan(model))
    torch.save(module.state_dict(), path)
    return repr(module)
