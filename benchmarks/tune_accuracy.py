"""Why row 1's best validation accuracy differs: ``python -m benchmarks.tune_accuracy``.

Runs the benchmark's caviar tune (32 trials × 3 epochs of 64-64-10 with batch norm on
digits), then trains the peer's PyTorch model on *the same 32 points* (learning rate, β1, β2)
and the same mini-batches twice: once with PyTorch's default initialisation (``Linear``:
uniform in ±1/√fan_in, as the peer does) and once starting from the exact weights caviar drew
for that trial (He normal for the hidden layer, variance 1/fan_in for the output layer, zero
bias). Prints the best validation accuracy of each. Needs ``torch==2.13.0``.
"""

from __future__ import annotations

from benchmarks.worker import (
    caviar_tune,
    torch_batches,
    torch_digits,
    torch_train,
    torch_tune_model,
)


def torch_accuracy(config: dict, init: str, number: int, data) -> float:
    """Validation accuracy of the peer's model trained with ``config``'s α, β1, β2, from
    PyTorch's initialisation (seeded with ``number``, as the peer seeds its trials) or,
    with ``init="caviar"``, from the weights caviar drew for the trial."""
    import torch

    import caviar

    Xtr, ytr, Xva, yva = data
    d, C = Xtr.shape[1], int(ytr.max()) + 1
    torch.manual_seed(number)
    model = torch_tune_model(d, C)
    if init == "caviar":
        net = caviar.Network([d, 64, C], seeds=[config["seed"]], dtype="float64")
        with torch.no_grad():
            model[0].weight.copy_(torch.from_numpy(net.dense[0].W[0].T.copy()))
            model[3].weight.copy_(torch.from_numpy(net.dense[1].W[0].T.copy()))
            model[3].bias.zero_()
    betas = (config["beta1"], config["beta2"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"], betas=betas)
    batches = torch_batches(len(ytr), config["batch_size"], config["epochs"])
    torch_train(model, opt, Xtr, ytr, batches)
    model.eval()
    with torch.no_grad():
        return float((model(Xva).argmax(1) == yva).double().mean())


def main() -> None:
    import torch

    torch.set_num_threads(2)
    trials = [t for t in caviar_tune(32, 3)[0] if t.status == "finished"]
    ours = [t.val_accuracy for t in trials if t.val_accuracy is not None]
    data = torch_digits()
    print(f"32 points of caviar's tune; best validation accuracy over them (of {len(trials)}):")
    print(f"  caviar engine                          {max(ours):.4f}")
    for init, label in (("caviar", "PyTorch from caviar's initial weights"),
                        ("torch", "PyTorch with its default init")):  # fmt: skip
        accs = [torch_accuracy(t.config, init, i, data) for i, t in enumerate(trials)]
        print(f"  {label:<39}{max(accs):.4f}")


if __name__ == "__main__":
    main()
