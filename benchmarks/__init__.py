"""Benchmarks of caviar against its peers (PyTorch, Optuna): ``python -m benchmarks``.

Not part of the library and not tests: every figure is measured in its own process by
:mod:`benchmarks.worker` and reported by :mod:`benchmarks.__main__`.
"""
