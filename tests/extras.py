"""Optional components the tests need: skipped where missing, except in CI (``CI=true``),
whose ``test`` extra installs them, so that a missing one fails there instead of hiding."""

from __future__ import annotations

import importlib
import os

import pytest


def require(module: str):
    """``import module``, or skip the test (fail it under ``CI=true``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not installed in CI; the 'test' extra must install it")
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
