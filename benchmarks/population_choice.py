"""``python -m benchmarks.population_choice [--repeats N]``: the population size the tuner
chooses for row 8's tune (40-256-256-10 BN, batch 128, Adam, MNIST-1D's 3,200 training
rows, 64 trials), on this machine as it is and with a competing ``python -c`` loop on one
core, with what each choice cost to make. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

BUSY_LOOP = "while True: pass"


def choose(repeats: int) -> list[tuple[int, str, float]]:
    from caviar.config import TrainConfig
    from caviar.tune import cost

    config = TrainConfig(hidden=(256, 256), batch_size=128, epochs=20, optimizer="adam")
    out = []
    for _ in range(repeats):
        cost._MEASURED.clear()
        t0 = time.perf_counter()
        K, why = cost.choose_population_size(config, 40, 10, n_trials=64, n_train=3200)
        out.append((K, why, time.perf_counter() - t0))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.population_choice")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    for label in ("as it is", "with a competing loop on one core"):
        loop = None
        if label != "as it is":
            loop = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
            time.sleep(0.5)
        try:
            for K, why, seconds in choose(args.repeats):
                print(f"{label}: K = {K}, chosen in {seconds:.2f} s; {why}")
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
