"""Record PyTorch reference values for caviar's conformance tests.

Run by hand, from the repository root:

    pip install torch==2.13.0        # the CPU wheel; plain `torch` pulls CUDA packages
    python tools/record_torch_reference.py

It regenerates, deterministically (fixed seeds, float64, one thread; the .npz files carry no
timestamp, so a rerun on the same machine writes byte-identical files), the three fixtures

    tests/train/reference/torch_quadratic.npz           optimizer trajectories on a fixed quadratic
    tests/train/reference/torch_bn_network.npz          a small batch-norm classifier, 50 steps
    tests/train/reference/torch_bn_after_network.npz    the same with batch norm after each
                                                        activation (dense layers with a bias)

which tests/train/reference/README.md describes key by key.

torch is NOT a caviar dependency, not even a test dependency: the tests read the recorded .npz
files with NumPy only (``np.load(path, allow_pickle=False)``). torch is needed only to run this
script again.

PyTorch's conventions differ from caviar's in places (DESIGN.md section 3). This script converts
explicitly, in code, at each place (look for "CONVERSION"), and records caviar-convention values:

* weights: torch ``Linear.weight`` is (n_out, n_in); caviar stores (n_in, n_out).
* momentum: caviar's ``v = beta*v + (1-beta)*g; p -= lr*v`` is torch
  ``SGD(lr=lr*(1-beta), momentum=beta, dampening=0)`` (then ``v_t = (1-beta)*buf_t``).
* batch-norm running statistics: torch's ``momentum`` is the weight of the new value
  (torch momentum = 1 - caviar momentum) and torch averages the UNBIASED batch variance;
  caviar averages the biased one. The running variance is converted with the exact formula
  ``caviar_T = mom**T + (m-1)/m * (torch_T - mom**T)`` (constant batch size m, T steps).

Before saving, the script checks itself: every optimizer is re-implemented in plain NumPy in
caviar's form, and the whole network (forward, closed-form backward, running statistics,
inference) too; the torch values must agree with the NumPy ones (1e-12 relative on the
quadratic and for the conversions, 1e-9 relative on the network), or nothing is written.
It also probes that each recorded run is well-conditioned (a 1e-12 relative nudge to the
parameters before any one step moves nothing recorded by more than 100 times as much), so a
caviar test can compare at a tight tolerance. It prints every difference it measured.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
torch.manual_seed(0)  # no torch RNG is used (all data and weights come from NumPy); belt and braces

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "tests" / "train" / "reference"

QUAD_TOL = 1e-12  # torch vs NumPy, quadratic trajectories and the conversion checks
NET_TOL = 1e-9  # torch vs NumPy, batch-norm network

# ----------------------------------------------------------------------------------------------
# Hyperparameters (caviar conventions). Non-default values, so that the tests are sharp.
# ----------------------------------------------------------------------------------------------
QUAD_STEPS = 50
QUAD_HP = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.1, "beta": 0.85},
    "rmsprop": {"lr": 0.005, "beta2": 0.9, "eps": 1e-7},  # lr 0.01: see "Rounding sensitivity"
    "adam": {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6},
    "adamw": {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1},
}

NET_STEPS = 50
NET_BATCH = 8
NET_N = 400
NET_EVAL_N = 20
BN_EPS = 1e-5
BN_MOMENTUM = 0.9  # caviar convention: running = momentum*running + (1-momentum)*batch_stat
NET_HP = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.1, "beta": 0.85},
    "rmsprop": {"lr": 0.005, "beta2": 0.9, "eps": 1e-7},
    "adam": {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6},
}
# caviar parameter names, in a fixed order, per batch-norm position: before the activation
# a hidden dense layer has no bias (batch norm's beta is its shift); after it, it has one
PARAM_NAMES = {
    "before": ("W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"),
    "after": ("W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"),
}


def rel_diff(a, ref) -> float:
    """max |a - ref| / max |ref| over the whole array (0 when both are 0)."""
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = np.max(np.abs(ref))
    err = np.max(np.abs(a - ref))
    return 0.0 if err == 0.0 else float(err / max(scale, 1e-300))


def check(name: str, a, ref, tol: float, report: dict) -> None:
    d = rel_diff(a, ref)
    report[name] = d
    if not d <= tol:
        raise AssertionError(f"self-check failed: {name}: relative difference {d:.3e} > {tol:.0e}")


# ----------------------------------------------------------------------------------------------
# Optimizers in caviar's form, plain NumPy (the self-check's side)
# ----------------------------------------------------------------------------------------------
class NumpyOptimizer:
    """caviar's update rules over a dict of arrays, in place; t counts steps from 1."""

    def __init__(self, kind: str, hp: dict, params: dict):
        self.kind, self.hp, self.t = kind, hp, 0
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.s = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        hp, t = self.hp, self.t
        for k, p in params.items():
            g = grads[k]
            if self.kind == "sgd":
                p -= hp["lr"] * g
            elif self.kind == "momentum":
                self.v[k] = hp["beta"] * self.v[k] + (1 - hp["beta"]) * g
                p -= hp["lr"] * self.v[k]
            elif self.kind == "rmsprop":
                self.s[k] = hp["beta2"] * self.s[k] + (1 - hp["beta2"]) * g**2
                p -= hp["lr"] * g / (np.sqrt(self.s[k]) + hp["eps"])
            elif self.kind in ("adam", "adamw"):
                if self.kind == "adamw":
                    # decoupled weight decay, applied before the Adam step (as torch AdamW does)
                    p -= hp["lr"] * hp["weight_decay"] * p
                b1, b2 = hp["beta1"], hp["beta2"]
                self.v[k] = b1 * self.v[k] + (1 - b1) * g
                self.s[k] = b2 * self.s[k] + (1 - b2) * g**2
                vh = self.v[k] / (1 - b1**t)
                sh = self.s[k] / (1 - b2**t)
                p -= hp["lr"] * vh / (np.sqrt(sh) + hp["eps"])
            else:
                raise ValueError(self.kind)


# ----------------------------------------------------------------------------------------------
# torch optimizers configured to follow caviar's rules
# ----------------------------------------------------------------------------------------------
def torch_optimizer(kind: str, hp: dict, params: list) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(params, lr=hp["lr"], momentum=0.0, foreach=False)
    if kind == "momentum":
        # CONVERSION (momentum): torch keeps buf_1 = g, buf_t = beta*buf_{t-1} + g (dampening=0)
        # and steps p -= lr_torch*buf_t. caviar's v_t = beta*v_{t-1} + (1-beta)*g with v_0 = 0
        # equals (1-beta)*buf_t for every t, so lr_torch = lr*(1-beta) gives the same trajectory.
        # (torch's dampening=beta is NOT the same: it sets buf_1 = g undamped on step 1.)
        return torch.optim.SGD(
            params,
            lr=hp["lr"] * (1 - hp["beta"]),
            momentum=hp["beta"],
            dampening=0.0,
            nesterov=False,
            foreach=False,
        )
    if kind == "rmsprop":
        # CONVERSION (rmsprop): caviar's beta2 is torch's alpha; eps outside the sqrt in both.
        return torch.optim.RMSprop(
            params,
            lr=hp["lr"],
            alpha=hp["beta2"],
            eps=hp["eps"],
            momentum=0.0,
            centered=False,
            foreach=False,
        )
    if kind == "adam":
        # torch Adam is caviar's Adam (bias correction with t from 1, eps outside the sqrt).
        return torch.optim.Adam(
            params,
            lr=hp["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=0.0,
            amsgrad=False,
            foreach=False,
        )
    if kind == "adamw":
        # torch AdamW: p *= 1 - lr*weight_decay, then the Adam step: caviar's decoupled decay.
        return torch.optim.AdamW(
            params,
            lr=hp["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            amsgrad=False,
            foreach=False,
        )
    raise ValueError(kind)


def hp_arrays(prefix: str, hp: dict) -> dict:
    return {f"{prefix}_{k}": np.array(v, dtype=np.float64) for k, v in hp.items()}


# ----------------------------------------------------------------------------------------------
# Fixture 1: the quadratic
# ----------------------------------------------------------------------------------------------
def make_quadratic():
    rng = np.random.default_rng(20240601)
    n = 6
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eigs = np.geomspace(0.2, 6.0, n)  # condition number 30
    A = (q * eigs) @ q.T
    A = 0.5 * (A + A.T)  # exactly symmetric
    b = rng.standard_normal(n)
    w0 = rng.standard_normal(n)
    return A, b, w0


def quadratic_torch(kind, hp, A, b, w0, steps):
    At, bt = torch.tensor(A), torch.tensor(b)
    w = torch.nn.Parameter(torch.tensor(w0))
    opt = torch_optimizer(kind, hp, [w])
    traj = [w0.copy()]
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = 0.5 * (w @ (At @ w)) - bt @ w
        loss.backward()
        opt.step()
        traj.append(w.detach().numpy().copy())
    return np.stack(traj)


def quadratic_numpy(kind, hp, A, b, w0, steps, perturb=None):
    """caviar-form trajectory; perturb = (step, dw) adds dw to w before that step (probe)."""
    params = {"w": w0.copy()}
    opt = NumpyOptimizer(kind, hp, params)
    traj = [w0.copy()]
    for step in range(steps):
        if perturb is not None and perturb[0] == step:
            params["w"] += perturb[1]
        grads = {"w": A @ params["w"] - b}
        opt.step(params, grads)
        traj.append(params["w"].copy())
    return np.stack(traj)


# Rounding sensitivity. Two correct implementations differ by rounding (~1e-16 per operation);
# a reference is only usable with a tight tolerance if the recorded run does not amplify such
# differences much. Probe: add a random relative perturbation of PROBE_SIZE to the parameters
# before one step, rerun (NumPy side), and divide the largest relative change of everything
# recorded by PROBE_SIZE. (RMSprop with lr=0.01 on the quadratic amplified ~1e4 after step ~40,
# as its per-coordinate step lr/sqrt(s) grows where a gradient shrinks; hence lr=0.005 there.)
PROBE_SIZE = 1e-12
MAX_AMPLIFICATION = 100.0


def quadratic_sensitivity(kind, hp, A, b, w0) -> float:
    rng = np.random.default_rng(7)
    base = quadratic_numpy(kind, hp, A, b, w0, QUAD_STEPS)
    worst = 0.0
    for step in range(0, QUAD_STEPS, 2):
        dw = PROBE_SIZE * np.abs(base[step]).max() * rng.standard_normal(w0.shape)
        probe = quadratic_numpy(kind, hp, A, b, w0, QUAD_STEPS, perturb=(step, dw))
        worst = max(worst, rel_diff(probe, base) / PROBE_SIZE)
    return worst


def network_sensitivity(kind, hp, X, y, batch_idx, init, base, position) -> float:
    rng = np.random.default_rng(8)
    worst = 0.0
    for step in range(0, NET_STEPS, 5):
        before = init if step == 0 else base["traj"][step - 1]
        dp = {
            k: PROBE_SIZE * np.abs(v).max() * rng.standard_normal(v.shape)
            for k, v in before.items()
        }
        probe = train_numpy(kind, hp, X, y, batch_idx, init, position, perturb=(step, dp))
        keys = [
            "loss",
            "eval_logits",
            "running_mean1",
            "running_var1",
            "running_mean2",
            "running_var2",
        ]
        diffs = [rel_diff(probe[k], base[k]) for k in keys]
        diffs += [rel_diff(probe["final"][k], base["final"][k]) for k in PARAM_NAMES[position]]
        worst = max(worst, max(diffs) / PROBE_SIZE)
    return worst


def record_quadratic(report: dict) -> dict:
    A, b, w0 = make_quadratic()
    cond = np.linalg.cond(A)
    assert 10 <= cond <= 50, cond
    out = {"A": A, "b": b, "w0": w0}
    for kind, hp in QUAD_HP.items():
        traj = quadratic_torch(kind, hp, A, b, w0, QUAD_STEPS)
        ref = quadratic_numpy(kind, hp, A, b, w0, QUAD_STEPS)
        check(f"quadratic {kind}_traj", traj, ref, QUAD_TOL, report)
        amp = quadratic_sensitivity(kind, hp, A, b, w0)
        report[f"(info) quadratic {kind} rounding amplification"] = amp
        assert amp <= MAX_AMPLIFICATION, f"quadratic {kind}: ill-conditioned reference ({amp:.3g})"
        assert np.all(np.isfinite(traj))
        out[f"{kind}_traj"] = traj
        out.update(hp_arrays(kind, hp))

    # Show that the naive mapping (torch dampening = beta) is a different trajectory, which is
    # why the conversion above is needed.
    hp = QUAD_HP["momentum"]
    At, bt = torch.tensor(A), torch.tensor(b)
    w = torch.nn.Parameter(torch.tensor(w0))
    naive = torch.optim.SGD(
        [w], lr=hp["lr"], momentum=hp["beta"], dampening=hp["beta"], foreach=False
    )
    naive_traj = [w0.copy()]
    for _ in range(QUAD_STEPS):
        naive.zero_grad(set_to_none=True)
        (0.5 * (w @ (At @ w)) - bt @ w).backward()
        naive.step()
        naive_traj.append(w.detach().numpy().copy())
    d = rel_diff(np.stack(naive_traj), out["momentum_traj"])
    report["(info) quadratic momentum, naive torch dampening=beta vs caviar"] = d
    assert d > 1e-3, "expected the naive dampening mapping to differ"
    return out


# ----------------------------------------------------------------------------------------------
# Fixture 2: the batch-norm network
# ----------------------------------------------------------------------------------------------
def make_network_data():
    rng = np.random.default_rng(20240602)
    X = rng.standard_normal((NET_N, 7))
    M = rng.standard_normal((7, 3))
    y = np.argmax(X @ M + 0.5 * rng.standard_normal((NET_N, 3)), axis=1).astype(np.int64)
    # batches: consecutive slices of seeded permutations, a new permutation when one runs out
    need = NET_STEPS * NET_BATCH
    order = np.concatenate([rng.permutation(NET_N) for _ in range(-(-need // NET_N))])
    batch_idx = order[:need].reshape(NET_STEPS, NET_BATCH).astype(np.int64)
    return X, y, batch_idx


def make_network_init(position: str) -> dict:
    rng = np.random.default_rng(20240603)
    init = {
        "W1": rng.standard_normal((7, 6)) * np.sqrt(2.0 / 7),  # caviar layout (n_in, n_out)
        "gamma1": 1.0 + 0.2 * rng.standard_normal(6),
        "beta1": 0.1 * rng.standard_normal(6),
        "W2": rng.standard_normal((6, 5)) * np.sqrt(2.0 / 6),
        "gamma2": 1.0 + 0.2 * rng.standard_normal(5),
        "beta2": 0.1 * rng.standard_normal(5),
        "W3": rng.standard_normal((5, 3)) * np.sqrt(2.0 / 5),
        "b3": 0.1 * rng.standard_normal(3),
    }
    if position == "after":
        # the hidden biases, from a generator of their own; at 0.1 (not 0.3) a ReLU unit of a
        # batch of 8 sits near its kink often enough that the probe below finds momentum's run
        # amplifying rounding 326-fold, too much for a tight comparison (0.3: at most 57)
        rng = np.random.default_rng(20240604)
        init.update(b1=0.3 * rng.standard_normal(6), b2=0.3 * rng.standard_normal(5))
    return init


class TorchNet(torch.nn.Module):
    """Before: Dense(7->6, no bias) -> BN -> ReLU -> Dense(6->5, no bias) -> BN -> tanh ->
    Dense(5->3). After: Dense(7->6) -> ReLU -> BN -> Dense(6->5) -> tanh -> BN -> Dense(5->3)."""

    def __init__(self, init: dict, position: str):
        super().__init__()
        self.position = position
        bias = position == "after"
        # CONVERSION (batch-norm momentum): torch's momentum weights the NEW value,
        # torch momentum = 1 - caviar momentum. (1 - 0.9 is exact in binary, and torch then uses
        # 1 - (1 - 0.9) == 0.9 exactly for the old value: the same coefficients as caviar.)
        torch_mom = 1.0 - BN_MOMENTUM
        self.fc1 = torch.nn.Linear(7, 6, bias=bias)
        self.bn1 = torch.nn.BatchNorm1d(6, eps=BN_EPS, momentum=torch_mom)
        self.fc2 = torch.nn.Linear(6, 5, bias=bias)
        self.bn2 = torch.nn.BatchNorm1d(5, eps=BN_EPS, momentum=torch_mom)
        self.fc3 = torch.nn.Linear(5, 3, bias=True)
        with torch.no_grad():
            for name, tensor in self.caviar_params().items():
                value = init[name]
                if name.startswith("W"):
                    # CONVERSION (layout): caviar W is (n_in, n_out); torch weight is (n_out, n_in)
                    value = value.T
                tensor.copy_(torch.tensor(value))
        # fresh running statistics: mean 0, var 1 (the same start in caviar and torch)
        assert torch.all(self.bn1.running_mean == 0) and torch.all(self.bn1.running_var == 1)

    def caviar_params(self) -> dict:
        tensors = {
            "W1": self.fc1.weight,
            "b1": self.fc1.bias,
            "gamma1": self.bn1.weight,
            "beta1": self.bn1.bias,
            "W2": self.fc2.weight,
            "b2": self.fc2.bias,
            "gamma2": self.bn2.weight,
            "beta2": self.bn2.bias,
            "W3": self.fc3.weight,
            "b3": self.fc3.bias,
        }
        return {name: tensors[name] for name in PARAM_NAMES[self.position]}

    def forward(self, x):
        if self.position == "after":
            a1 = self.bn1(torch.relu(self.fc1(x)))
            return self.fc3(self.bn2(torch.tanh(self.fc2(a1))))
        a1 = torch.relu(self.bn1(self.fc1(x)))
        a2 = torch.tanh(self.bn2(self.fc2(a1)))
        return self.fc3(a2)


def to_caviar(name: str, tensor: torch.Tensor) -> np.ndarray:
    value = tensor.detach().numpy().copy()
    if name.startswith("W"):
        # CONVERSION (layout): torch Linear.weight / its gradient is (n_out, n_in) -> caviar
        # (n_in, n_out)
        value = np.ascontiguousarray(value.T)
    return value


def caviar_running_var(torch_running_var: np.ndarray, steps: int, m: int) -> np.ndarray:
    # CONVERSION (running variance): torch's r_T = mom^T*1 + sum_t mom^(T-t)(1-mom) u_t with u_t
    # the UNBIASED batch variance; caviar's c_T is the same sum over biased b_t = (m-1)/m u_t.
    # Hence c_T = mom^T + (m-1)/m * (r_T - mom^T) for a constant batch size m.
    mom_T = BN_MOMENTUM**steps
    return mom_T + (m - 1) / m * (torch_running_var - mom_T)


def train_torch(kind: str, hp: dict, X, y, batch_idx, init, position, report: dict) -> dict:
    net = TorchNet(init, position)
    params = net.caviar_params()
    opt = torch_optimizer(kind, hp, list(params.values()))

    # forward hooks: the batch-norm inputs z of every training step, to rebuild the caviar
    # running statistics by hand and check the conversion formula
    seen = {"bn1": [], "bn2": []}

    def hook(name):
        def record(module, inputs, output):
            if module.training:
                seen[name].append(inputs[0].detach().numpy().copy())

        return record

    handles = [
        net.bn1.register_forward_hook(hook("bn1")),
        net.bn2.register_forward_hook(hook("bn2")),
    ]

    Xt, yt = torch.tensor(X), torch.tensor(y)
    losses, traj, grad0 = [], [], None
    net.train()
    for step in range(NET_STEPS):
        idx = torch.tensor(batch_idx[step])
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(Xt[idx]), yt[idx], reduction="mean")
        loss.backward()
        losses.append(loss.item())  # before this step's update
        if step == 0:
            grad0 = {k: to_caviar(k, p.grad) for k, p in params.items()}
        opt.step()
        traj.append({k: to_caviar(k, p) for k, p in params.items()})
    for h in handles:
        h.remove()

    rec = {
        "loss": np.array(losses),
        "traj": traj,
        "grad0": grad0,
        "final": traj[-1],
    }
    # for the record only: what torch's eval mode gives with its own (unbiased-EWA) running_var
    net.eval()
    with torch.no_grad():
        torch_own_eval_logits = net(Xt[:NET_EVAL_N]).numpy().copy()
    net.train()

    m = NET_BATCH
    for i, bn in (("1", net.bn1), ("2", net.bn2)):
        steps = int(bn.num_batches_tracked.item())
        assert steps == NET_STEPS == len(seen[f"bn{i}"])
        # running mean: only the momentum differs, and that was converted at construction
        rmean = bn.running_mean.detach().numpy().copy()
        rvar = caviar_running_var(bn.running_var.detach().numpy().copy(), steps, m)
        # hand-rolled caviar EWA of the batch statistics that the hooks saw
        hm, hv = np.zeros_like(rmean), np.ones_like(rvar)
        for z in seen[f"bn{i}"]:
            mu = z.mean(axis=0)
            var = ((z - mu) ** 2).mean(axis=0)  # biased
            hm = BN_MOMENTUM * hm + (1 - BN_MOMENTUM) * mu
            hv = BN_MOMENTUM * hv + (1 - BN_MOMENTUM) * var
        name = f"network {position} {kind}"
        check(f"{name} running_mean{i} torch vs hand EWA", rmean, hm, QUAD_TOL, report)
        check(f"{name} running_var{i} converted vs hand EWA", rvar, hv, QUAD_TOL, report)
        rec[f"running_mean{i}"] = rmean
        rec[f"running_var{i}"] = rvar
        # CONVERSION (inference): torch's eval mode would normalise with its own (unbiased-EWA)
        # running_var; caviar infers with the caviar running statistics, so load those first.
        with torch.no_grad():
            bn.running_var.copy_(torch.tensor(rvar))

    net.eval()
    with torch.no_grad():
        rec["eval_logits"] = net(Xt[:NET_EVAL_N]).numpy().copy()
    report[f"(info) network {position} {kind} eval_logits, torch's own running_var"] = rel_diff(
        torch_own_eval_logits, rec["eval_logits"]
    )
    return rec


# ---- the same network in plain NumPy, caviar conventions -------------------------------------
def np_bn_forward(z, gamma, beta, run_mean, run_var, training):
    if training:
        mu = z.mean(axis=0)
        var = ((z - mu) ** 2).mean(axis=0)  # biased
        run_mean[...] = BN_MOMENTUM * run_mean + (1 - BN_MOMENTUM) * mu
        run_var[...] = BN_MOMENTUM * run_var + (1 - BN_MOMENTUM) * var
    else:
        mu, var = run_mean, run_var
    inv_std = 1.0 / np.sqrt(var + BN_EPS)
    xhat = (z - mu) * inv_std
    return gamma * xhat + beta, (xhat, inv_std)


def np_bn_backward(dy, gamma, cache):
    xhat, inv_std = cache
    dgamma = (dy * xhat).sum(axis=0)
    dbeta = dy.sum(axis=0)
    dz = gamma * inv_std * (dy - dy.mean(axis=0) - xhat * (dy * xhat).mean(axis=0))
    return dz, dgamma, dbeta


def np_forward(p, state, X, training, position):
    if position == "after":
        return np_forward_after(p, state, X, training)
    z1 = X @ p["W1"]
    u1, c1 = np_bn_forward(z1, p["gamma1"], p["beta1"], state["mean1"], state["var1"], training)
    a1 = np.maximum(u1, 0.0)
    z2 = a1 @ p["W2"]
    u2, c2 = np_bn_forward(z2, p["gamma2"], p["beta2"], state["mean2"], state["var2"], training)
    a2 = np.tanh(u2)
    logits = a2 @ p["W3"] + p["b3"]
    return logits, (X, u1, c1, a1, c2, a2)


def np_forward_after(p, state, X, training):
    """Batch norm after each activation: Dense (bias) -> activation -> BN."""
    z1 = X @ p["W1"] + p["b1"]
    r1 = np.maximum(z1, 0.0)
    a1, c1 = np_bn_forward(r1, p["gamma1"], p["beta1"], state["mean1"], state["var1"], training)
    t2 = np.tanh(a1 @ p["W2"] + p["b2"])
    a2, c2 = np_bn_forward(t2, p["gamma2"], p["beta2"], state["mean2"], state["var2"], training)
    logits = a2 @ p["W3"] + p["b3"]
    return logits, (X, z1, c1, a1, t2, c2, a2)


def np_loss_and_dlogits(logits, y):
    """Mean softmax cross-entropy over the batch and its gradient, dZ = (Ŷ - Y) / m."""
    m = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    Y = np.zeros_like(logits)
    Y[np.arange(m), y] = 1.0
    return -logp[np.arange(m), y].mean(), (np.exp(logp) - Y) / m


def np_loss_and_grads_after(p, state, X, y):
    logits, (X, z1, c1, a1, t2, c2, a2) = np_forward_after(p, state, X, training=True)
    loss, dZ3 = np_loss_and_dlogits(logits, y)
    g = {"W3": a2.T @ dZ3, "b3": dZ3.sum(axis=0)}
    dt2, g["gamma2"], g["beta2"] = np_bn_backward(dZ3 @ p["W3"].T, p["gamma2"], c2)
    dz2 = dt2 * (1.0 - t2**2)
    g["W2"], g["b2"] = a1.T @ dz2, dz2.sum(axis=0)
    dr1, g["gamma1"], g["beta1"] = np_bn_backward(dz2 @ p["W2"].T, p["gamma1"], c1)
    dz1 = dr1 * (z1 > 0)
    g["W1"], g["b1"] = X.T @ dz1, dz1.sum(axis=0)
    return loss, g


def np_loss_and_grads(p, state, X, y, position):
    if position == "after":
        return np_loss_and_grads_after(p, state, X, y)
    logits, (X, u1, c1, a1, c2, a2) = np_forward(p, state, X, True, position)
    loss, dZ3 = np_loss_and_dlogits(logits, y)
    g = {"W3": a2.T @ dZ3, "b3": dZ3.sum(axis=0)}
    du2 = (dZ3 @ p["W3"].T) * (1.0 - a2**2)
    dz2, g["gamma2"], g["beta2"] = np_bn_backward(du2, p["gamma2"], c2)
    g["W2"] = a1.T @ dz2
    du1 = (dz2 @ p["W2"].T) * (u1 > 0)
    dz1, g["gamma1"], g["beta1"] = np_bn_backward(du1, p["gamma1"], c1)
    g["W1"] = X.T @ dz1
    return loss, g


def train_numpy(kind, hp, X, y, batch_idx, init, position, perturb=None) -> dict:
    """caviar-form training; perturb = (step, {name: dp}) adds dp before that step (probe)."""
    p = {k: v.copy() for k, v in init.items()}
    state = {"mean1": np.zeros(6), "var1": np.ones(6), "mean2": np.zeros(5), "var2": np.ones(5)}
    opt = NumpyOptimizer(kind, hp, p)
    losses, traj, grad0 = [], [], None
    for step in range(NET_STEPS):
        if perturb is not None and perturb[0] == step:
            for k, dp in perturb[1].items():
                p[k] += dp
        idx = batch_idx[step]
        loss, g = np_loss_and_grads(p, state, X[idx], y[idx], position)
        losses.append(loss)
        if step == 0:
            grad0 = {k: v.copy() for k, v in g.items()}
        opt.step(p, g)
        traj.append({k: v.copy() for k, v in p.items()})
    logits, _ = np_forward(p, state, X[:NET_EVAL_N], False, position)
    return {
        "loss": np.array(losses),
        "traj": traj,
        "grad0": grad0,
        "final": traj[-1],
        "running_mean1": state["mean1"],
        "running_var1": state["var1"],
        "running_mean2": state["mean2"],
        "running_var2": state["var2"],
        "eval_logits": logits,
    }


def record_network(report: dict, position: str) -> dict:
    X, y, batch_idx = make_network_data()
    init = make_network_init(position)
    names = PARAM_NAMES[position]
    out = {
        "X": X,
        "y": y,
        "batch_idx": batch_idx,
        "bn_eps": np.array(BN_EPS),
        "bn_momentum": np.array(BN_MOMENTUM),
    }
    out.update({f"init_{k}": init[k] for k in names})
    for kind, hp in NET_HP.items():
        name = f"network {position} {kind}"
        t = train_torch(kind, hp, X, y, batch_idx, init, position, report)
        n = train_numpy(kind, hp, X, y, batch_idx, init, position)
        amp = network_sensitivity(kind, hp, X, y, batch_idx, init, n, position)
        report[f"(info) {name} rounding amplification"] = amp
        assert amp <= MAX_AMPLIFICATION, f"{name}: ill-conditioned reference ({amp:.3g})"
        check(f"{name}_loss", t["loss"], n["loss"], NET_TOL, report)
        worst = max(
            rel_diff(ts[k], ns[k])
            for ts, ns in zip(t["traj"], n["traj"], strict=True)
            for k in names
        )
        report[f"{name} params after every step (worst array)"] = worst
        assert worst <= NET_TOL, f"self-check failed: {name} parameter trajectory {worst:.3e}"
        for k in names:
            check(f"{name}_grad0_{k}", t["grad0"][k], n["grad0"][k], NET_TOL, report)
            check(f"{name}_final_{k}", t["final"][k], n["final"][k], NET_TOL, report)
        for k in ("running_mean1", "running_var1", "running_mean2", "running_var2"):
            check(f"{name}_{k}", t[k], n[k], NET_TOL, report)
        check(f"{name} eval_logits", t["eval_logits"], n["eval_logits"], NET_TOL, report)
        assert np.all(np.isfinite(t["loss"]))
        assert t["loss"][-10:].mean() < t["loss"][:10].mean(), f"{name}: the loss did not go down"

        out[f"{kind}_loss"] = t["loss"]
        for k in names:
            out[f"{kind}_final_{k}"] = t["final"][k]
        for k in ("running_mean1", "running_var1", "running_mean2", "running_var2"):
            out[f"{kind}_{k}"] = t[k]
        for k in names:
            out[f"{kind}_grad0_{k}"] = t["grad0"][k]
        out[f"eval_logits_{kind}"] = t["eval_logits"]
        out.update(hp_arrays(kind, hp))
    return out


# ----------------------------------------------------------------------------------------------
# Saving: an .npz that np.load reads with allow_pickle=False, byte-identical on every run
# (np.savez stamps the current time into the zip; this writer uses a fixed one).
# ----------------------------------------------------------------------------------------------
def save_npz(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".npz.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            arr = np.asarray(arrays[key])
            assert arr.dtype.kind in "fiU", (key, arr.dtype)
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr.copy(order="C"), allow_pickle=False)  # keeps 0-d
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)
    # read back the way the tests will
    with np.load(path, allow_pickle=False) as back:
        assert sorted(back.files) == sorted(arrays)
        for key in arrays:
            assert back[key].dtype == np.asarray(arrays[key]).dtype, key
            assert back[key].shape == np.asarray(arrays[key]).shape, key
            assert np.array_equal(back[key], arrays[key]), key
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes, {len(arrays)} keys)")


def main() -> None:
    assert torch.__version__.split("+")[0] == "2.13.0", (
        f"recorded with torch 2.13.0, not {torch.__version__}"
    )
    report: dict = {}
    quad = record_quadratic(report)
    net = record_network(report, "before")
    after = record_network(report, "after")
    stamp = np.array(f"tools/record_torch_reference.py, torch {torch.__version__}")
    for fixture in (quad, net, after):
        fixture["generator"] = stamp

    print("self-check, max relative differences (max|a-b| / max|b| per array):")
    width = max(len(k) for k in report)
    for k, v in report.items():
        print(f"  {k:<{width}}  {v:.3e}")
    groups = {
        "quadratic trajectories (torch vs NumPy)": [
            v for k, v in report.items() if k.startswith("quadratic")
        ],
        "running-stat conversion vs hand EWA": [v for k, v in report.items() if "hand EWA" in k],
        "rounding amplification (NumPy probe)": [
            v for k, v in report.items() if "amplification" in k
        ],
        "network, all keys (torch vs NumPy)": [
            v for k, v in report.items() if k.startswith("network") and "hand EWA" not in k
        ],
    }
    print("summary:")
    for name, values in groups.items():
        print(f"  {name}: max {max(values):.3e}")

    save_npz(OUT_DIR / "torch_quadratic.npz", quad)
    save_npz(OUT_DIR / "torch_bn_network.npz", net)
    save_npz(OUT_DIR / "torch_bn_after_network.npz", after)


if __name__ == "__main__":
    main()
