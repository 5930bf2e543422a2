"""Workload sizes of a full run and of ``--quick``, shared by the runner and the workers."""

from __future__ import annotations

# The model of rows 2-4 and 7: 784-256-256-10, batch norm after each hidden dense layer.
SIZES = (784, 256, 256, 10)
WEIGHTS = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:], strict=True))  # 268,800
FLOP_PER_SAMPLE = 6 * WEIGHTS  # 2 forward + 4 backward per weight and example

FULL = {
    "quick": False,
    "sgemm_sizes": (2048, 3072, 4096),
    "sgemm_repeats": 3,
    "stream_floats": 50_000_000,  # 200 MB per array, three arrays
    "stream_repeats": 8,
    "tune_trials": 32,
    "tune_epochs": 3,
    "one_model_samples": 51_200,  # 200 steps of 256 per epoch
    "one_model_epochs": 2,
    "torch_steps_256": 200,
    "k128_steps": 10,
    "k32_steps": 80,
    "torch_steps_64": 400,
    "adam_steps": 30,
    "warmup_steps": 5,
}

QUICK = {
    **FULL,
    "quick": True,
    "sgemm_sizes": (2048, 3072),
    "sgemm_repeats": 2,
    "stream_floats": 25_000_000,
    "stream_repeats": 5,
    "one_model_samples": 25_600,
    "one_model_epochs": 1,
    "torch_steps_256": 100,
    "k128_steps": 6,
    "k32_steps": 40,
    "torch_steps_64": 200,
    "adam_steps": 10,
    "warmup_steps": 3,
}


def sizes(quick: bool) -> dict:
    return QUICK if quick else FULL
