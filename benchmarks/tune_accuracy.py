"""Why row 1's best validation accuracy differs: ``python -m benchmarks.tune_accuracy``.

Runs the benchmark's caviar tune (32 trials × 3 epochs of 64-64-10 with batch norm on
digits), then trains the peer's PyTorch model on *the same 32 points* (learning rate, β1, β2)
and the same mini-batches twice: once with PyTorch's default initialisation (``Linear``:
uniform in ±1/√fan_in, as the peer does) and once starting from the exact weights caviar drew
for that trial (He normal for the hidden layer, variance 1/fan_in for the output layer, zero
bias). Prints the best validation accuracy of each. Needs ``torch==2.13.0``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def caviar_trials():
    import caviar.data
    from caviar.config import TrainConfig
    from caviar.tune import default_space
    from caviar.tune.tuner import Tuner, TuneSettings, open_study

    data = caviar.data.load("digits")
    base = TrainConfig(hidden=(64,), batchnorm=True, optimizer="adam", batch_size=64)
    base = base.replace(epochs=3, dtype="float32")
    settings = TuneSettings(
        data="digits",
        trials=32,
        space=default_space().to_dict(),
        base=base.to_dict(),
        strategy="caviar",
        seed=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        study, settings = open_study(Path(tmp) / "study.db", settings, resume=False)
        with study:
            trials = Tuner(study, settings, data).run()
    return [t for t in trials if t.status == "finished"]


def torch_accuracy(config: dict, init: str, number: int) -> float:
    """Validation accuracy of the peer's model trained with ``config``'s α, β1, β2."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    import caviar
    import caviar.data
    from caviar.data import Standardizer, train_val_test_split
    from caviar.train.batches import batch_bounds, epoch_order

    torch.set_num_threads(2)
    ds = caviar.data.load("digits")
    train, val, _ = train_val_test_split(ds, 0.1, 0.2, seed=0)
    std = Standardizer.fit(train.X)
    Xtr = torch.from_numpy(std.transform(train.X).astype(np.float32))
    ytr = torch.from_numpy(train.y.astype(np.int64))
    Xva = torch.from_numpy(std.transform(val.X).astype(np.float32))
    yva = torch.from_numpy(val.y.astype(np.int64))
    n, d, C = len(ytr), Xtr.shape[1], ds.n_classes
    torch.manual_seed(number)  # as the peer seeds trial `number`
    model = nn.Sequential(
        nn.Linear(d, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, C)
    )
    if init == "caviar":
        net = caviar.Network([d, 64, C], seeds=[config["seed"]], dtype="float64")
        with torch.no_grad():
            model[0].weight.copy_(torch.from_numpy(net.dense[0].W[0].T.copy()))
            model[3].weight.copy_(torch.from_numpy(net.dense[1].W[0].T.copy()))
            model[3].bias.zero_()
    opt = torch.optim.Adam(
        model.parameters(), lr=config["lr"], betas=(config["beta1"], config["beta2"])
    )
    model.train()
    for e in range(config["epochs"]):
        order = torch.from_numpy(epoch_order(n, 0, e))
        for start, stop in batch_bounds(n, config["batch_size"]):
            idx = order[start:stop]
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(Xva).argmax(1) == yva).double().mean())


def main() -> None:
    trials = caviar_trials()
    ours = [t.val_accuracy for t in trials if t.val_accuracy is not None]
    print(f"32 points of caviar's tune; best validation accuracy over them (of {len(trials)}):")
    print(f"  caviar engine                          {max(ours):.4f}")
    for init, label in (("caviar", "PyTorch from caviar's initial weights"),
                        ("torch", "PyTorch with its default init")):  # fmt: skip
        accs = [torch_accuracy(t.config, init, i) for i, t in enumerate(trials)]
        print(f"  {label:<39}{max(accs):.4f}")


if __name__ == "__main__":
    main()
