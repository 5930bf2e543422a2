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
    from caviar.ensemble import load
    from caviar.export import to_onnx, to_torch

    if onnx_path is None and torch_path is None:
        raise InvalidArgument("Say where to export: --onnx PATH and/or --torch PATH.")
    model = load(model_file)
    if onnx_path is not None:
        to_onnx(model, onnx_path)
        click.echo(
            f"wrote {onnx_path}: {_inputs(model)}, output 'probabilities' "
            f"(N, {len(model.classes)}); {_onnx_check(model, onnx_path)}"
        )
    if torch_path is not None:
        text = to_torch(model, torch_path)
        if hasattr(model, "models"):
            click.echo(f"the ensemble's {len(model.models)} members as one nn.ModuleList")
        if model.prep is not None:
            encoding = _write_encoding(model, torch_path)
            click.echo(
                f"the module takes the encoded table ({len(model.feature_names)} columns: "
                f"{', '.join(model.feature_names[:4])}, ...), not raw rows; the encoding is in "
                f"{encoding} (caviar.data.prep.Preprocessor.from_dict reads it)"
            )
        click.echo(f"wrote {torch_path}: the state_dict of")
        click.echo(text)
        click.echo("load it with module.load_state_dict(torch.load(PATH, weights_only=True))")


def _inputs(model) -> str:
    if hasattr(model, "models"):
        return f"{_inputs(model.models[0])}, {len(model.models)} members summed"
    if model.prep is None:
        return f"input 'features' (N, {model.net.sizes[0]}) raw"
    kinds = model.prep.kinds
    numeric, text = kinds.count("numeric"), kinds.count("categorical")
    parts = [f"'numeric' (N, {numeric}) float, NaN for missing"] if numeric else []
    parts += [f"'text' (N, {text}) strings, \"\" for missing"] if text else []
    return "inputs " + " and ".join(parts) + " (the raw columns, in caviar info's order)"


def _write_encoding(model, torch_path) -> str:
    import json
    from pathlib import Path

    path = Path(f"{torch_path}.encoding.json")
    path.write_text(json.dumps(model.prep.to_dict(), indent=1) + "\n")
    return str(path)


def _table_rows(model, rng) -> dict:
    """Synthetic raw rows of a table model's columns: numbers around the training medians,
    the training levels, an unseen level and missing cells."""
    import numpy as np

    rows = {}
    for c in model.prep.columns:
        if c.kind == "numeric":
            v = c.median + (1 + abs(c.median)) * rng.normal(size=CHECK_ROWS)
        else:
            v = rng.choice(np.array([*c.categories, "(unseen)"], dtype=object), CHECK_ROWS)
        v = np.asarray(v, dtype=object)
        v[rng.random(CHECK_ROWS) < 0.1] = None
        rows[c.name] = v
    return rows


def _onnx_check(model, path) -> str:
    """Agreement with caviar on rows drawn around the training data's mean and spread, when
    onnxruntime is installed."""
    import importlib.util

    import numpy as np

    from caviar.export import onnx_probabilities

    if importlib.util.find_spec("onnxruntime") is None:
        return "install onnxruntime to check it against caviar"
    rng = np.random.default_rng(0)
    first = model.models[0] if hasattr(model, "models") else model
    if model.prep is not None:
        X = _table_rows(first, rng)
        diff = np.abs(onnx_probabilities(path, X, model.prep) - model.predict_proba(X)).max()
        return (
            f"max |p_onnx - p_caviar| = {diff:.1e} on {CHECK_ROWS} synthetic rows "
            "(10 % missing cells, unseen levels)"
        )
    std = first.standardizer
    X = std.mean + std.std * rng.normal(size=(CHECK_ROWS, std.mean.shape[0]))
    diff = np.abs(onnx_probabilities(path, X) - model.predict_proba(X)).max()
    return f"max |p_onnx - p_caviar| = {diff:.1e} on {CHECK_ROWS} synthetic rows"
