"""The README's Python blocks, run as a user pastes them (in a fresh folder, beside the files
the commands before them wrote)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_block(heading: str) -> str:
    """The first ```python block under the ``## heading`` of the README."""
    section = README.split(f"## {heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_python_block_of_tuning_and_models_scores_the_test_split(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    run = [sys.executable, "-m", "caviar.cli", "train", "--data", "digits"]
    subprocess.run([*run, "--save", "digits.npz"], cwd=tmp_path, check=True, capture_output=True)
    script = tmp_path / "block.py"
    script.write_text(python_block("Tuning and models from Python"))
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    split, n, accuracy = out[-2].split()  # print(scores["split"], scores["n"], ...)
    assert (split, n) == ("test", "359") and 0.9 < float(accuracy) < 1
    assert 0.9 < float(out[-1]) <= 1  # split="all": every row
    assert (tmp_path / "study.html").stat().st_size > 100_000


def test_the_readme_commands_keep_the_editable_install_and_the_readme():
    """Pasted in the order written, the README's commands must not break its test command:
    a plain ``pip install '.[extra]'`` replaces the editable install (pytest then fails with
    "import file mismatch"), and ``ruff format .`` rewrites README.md itself."""
    first = README.index("pip install -e '.[test]' && pytest")
    plain = re.findall(r"pip install (?!-e )['\"]?\.\[", README[first:])
    assert not plain, "install this checkout with -e after the set-up commands"
    assert not re.search(r"ruff (format|check)( --check)? \.(\s|`)", README)
