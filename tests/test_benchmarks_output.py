"""``python -m benchmarks`` never changes the checkout unless asked: a run writes its table to
an untracked folder, and only ``--write-latest`` (a full run) replaces the tracked one."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRACKED = [ROOT / "benchmarks" / "latest.md", ROOT / "benchmarks" / "latest.json"]


def _digests() -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in TRACKED]


@pytest.mark.slow
def test_a_benchmark_run_writes_beside_the_checkout_not_over_its_table(tmp_path):
    before = _digests()
    run = [sys.executable, "-m", "benchmarks", "--only", "import", "--reps", "1"]
    subprocess.run([*run, "--out", str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    assert _digests() == before
    assert "import caviar" in (tmp_path / "latest.md").read_text()
    refused = subprocess.run([*run, "--write-latest"], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "--write-latest replaces the tracked full table" in (
        refused.stderr
    )
    assert _digests() == before
