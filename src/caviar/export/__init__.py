"""Models that leave caviar: an ONNX graph (``onnx`` extra) and a PyTorch ``state_dict``
with its ``nn.Sequential`` (``torch`` extra), both of the network in inference mode.

:func:`inference_plan` reads a model once into plain arrays (batch norm folded into the dense
layer before it, dropout dropped); the two writers only translate that plan.
"""

from caviar.export.onnx_graph import onnx_probabilities, to_onnx
from caviar.export.plan import Dense, Plan, inference_plan
from caviar.export.torch_module import to_torch

__all__ = ["Dense", "Plan", "inference_plan", "onnx_probabilities", "to_onnx", "to_torch"]
