"""``caviar export MODEL --onnx PATH --torch PATH``: the model in inference mode, elsewhere."""

from __future__ import annotations

import click

from caviar.errors import InvalidArgument

CHECK_ROWS = 256


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.option("--onnx", "onnx_path", metavar="PATH", help="Write an ONNX graph here.")
@click.option("--torch", "torch_path", metavar="PATH", help="Write a PyTorch state_dict here.")
def export(model_file, onnx_path, torch_path):
    """Export MODEL: an ONNX graph taking raw features (batch norm folded, standardisation
    included) and/or a PyTorch state_dict, whose nn.Sequential is printed."""
    from caviar.export import to_onnx, to_torch
    from caviar.model import Model

    if onnx_path is None and torch_path is None:
        raise InvalidArgument("Say where to export: --onnx PATH and/or --torch PATH.")
    model = Model.load(model_file)
    if onnx_path is not None:
        to_onnx(model, onnx_path)
        click.echo(
            f"wrote {onnx_path}: input 'features' (N, {model.net.sizes[0]}) raw, "
            f"output 'probabilities' (N, {len(model.classes)}); {_onnx_check(model, onnx_path)}"
        )
    if torch_path is not None:
        text = to_torch(model, torch_path)
        click.echo(f"wrote {torch_path}: the state_dict of")
        click.echo(text)
        click.echo("load it with module.load_state_dict(torch.load(PATH, weights_only=True))")


def _onnx_check(model, path) -> str:
    """Agreement with caviar on rows drawn around the training data's mean and spread, when
    onnxruntime is installed."""
    import importlib.util

    import numpy as np

    from caviar.export import onnx_probabilities

    if importlib.util.find_spec("onnxruntime") is None:
        return "install onnxruntime to check it against caviar"
    rng = np.random.default_rng(0)
    std = model.standardizer
    X = std.mean + std.std * rng.normal(size=(CHECK_ROWS, std.mean.shape[0]))
    diff = np.abs(onnx_probabilities(path, X) - model.predict_proba(X)).max()
    return f"max |p_onnx - p_caviar| = {diff:.1e} on {CHECK_ROWS} synthetic rows"
