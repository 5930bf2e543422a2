"""The house's hallways: no private name of the network is reached from outside ``caviar/nn``,
the optimizers do not import the layers, and each knob has one default."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from caviar.config import FIELDS, TrainConfig
from caviar.nn.network import Network
from caviar.optim import OPTIMIZERS, SCHEDULES

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(r"\b(net|network|self\.net|pop\.net|model\.net)\._[a-z]")


def _python_files():
    for folder in ("src", "tests", "benchmarks", "tools"):
        yield from (ROOT / folder).rglob("*.py")


def test_no_private_network_name_is_used_outside_caviar_nn():
    offenders = []
    for path in _python_files():
        if "caviar/nn/" in path.as_posix() or path == Path(__file__).resolve():
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if PRIVATE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_the_optimizers_and_the_batcher_do_not_import_the_layers():
    for path in [*(ROOT / "src/caviar/optim").glob("*.py"), ROOT / "src/caviar/train/batches.py"]:
        assert "caviar.nn" not in path.read_text(), path


def _engine_defaults(component: str) -> dict:
    if component == "network":
        signature = inspect.signature(Network)
    elif component in OPTIMIZERS:
        signature = inspect.signature(OPTIMIZERS[component])
    else:
        return {arg: default for arg, (default, _) in SCHEDULES[component][2].items()}
    return {p.name: p.default for p in signature.parameters.values()}


def test_each_knob_has_one_default_the_config_and_the_engine_agree_on():
    for name, f in FIELDS.items():
        for component, argument in f.metadata["to"].items():
            engine = _engine_defaults(component)[argument]
            if component == "network" and argument == "seeds":
                continue  # seeds default to 0..K-1; the config's seed 0 is member 0's
            # None: the engine takes its class's default (AdamW's λ = 0.01, on purpose)
            assert engine in (f.default, None), (name, component, engine, f.default)
    assert TrainConfig().plateau_patience == SCHEDULES["plateau"][2]["patience"][0]


def test_every_field_declares_a_rule_and_what_it_feeds():
    for name, f in FIELDS.items():
        assert {"help", "rule", "member", "to"} <= set(f.metadata), name
        if f.metadata["member"] and name not in ("lr",):
            assert f.metadata["to"], f"{name} is per member but feeds nothing"


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (at the top or inside a function), as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_library_module_imports_caviar_cli():
    """The command line asks the library; the library never imports the command line."""
    src = ROOT / "src/caviar"
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in src.rglob("*.py")
        if "cli" not in path.relative_to(src).parts
        for name in sorted(_imported_modules(path))
        if name == "caviar.cli" or name.startswith("caviar.cli.")
    ]
    assert offenders == []


STATUS_AS_STRING = re.compile(
    r"""status\s*(==|!=|in)\s*[(\[{]?\s*["'](pending|running|finished|diverged|pruned|failed)["']"""
)


def test_statuses_are_compared_as_status_values_never_as_strings():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in (ROOT / "src/caviar").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if STATUS_AS_STRING.search(line)
    ]
    assert offenders == []


def test_each_cli_room_holds_one_kind_of_thing():
    """Every ``caviar study`` command lives in cli/study_cmds.py, the tune's settings take
    their option types from TuneSettings' rules, and the vocabularies are spelled once."""
    from caviar.cli.main import main
    from caviar.cli.options import option_type
    from caviar.tuning.settings import TuneSettings

    study = main.commands["study"]
    for name, command in {"study": study, **study.commands}.items():
        assert command.callback.__module__ == "caviar.cli.study_cmds", name
    tune = {p.name: p for p in main.commands["tune"].params}
    for name in ("trials", "rounds", "strategy", "sampler", "halving", "top_fraction", "seed"):
        kind = {"strategy": str, "sampler": str, "halving": float, "top_fraction": float}
        want = option_type(TuneSettings.rule(name), kind.get(name, int))
        assert repr(tune[name].type) == repr(want), name
    spelled = [
        path.relative_to(ROOT)
        for path in (ROOT / "src/caviar").rglob("*.py")
        if re.search(r"""\(\s*["']auto["'],\s*["']local["']""", path.read_text())
    ]
    assert [str(p) for p in spelled] == ["src/caviar/tuning/__init__.py"]


def test_the_tests_mirror_the_source_layout():
    """tests/<name>/ for each subpackage caviar/<name>/, and no test folder without one."""
    src = {p.name for p in (ROOT / "src/caviar").iterdir() if (p / "__init__.py").exists()}
    tests = {
        p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    assert tests == src


# The floors of docs/design.md's picture, bottom first: a module imports only from floors
# below its own (caviar/__init__.py, the public surface, is the roof and may import any).
FLOORS = (
    ("errors", "_files"),
    ("_validate", "_arrays", "backend"),
    ("nn", "checkpoint", "data"),
    ("optim", "gradcheck", "export"),
    ("config",),
    ("cost", "sources"),
    ("train",),
    ("model",),
    ("ensemble",),
    ("estimator", "tuning"),
    ("report", "experiments"),
    ("api",),
    ("cli",),
)


def test_every_import_goes_down_the_floors_of_the_design_picture():
    src = ROOT / "src/caviar"
    floor = {name: i for i, names in enumerate(FLOORS) for name in names}
    units = {p.stem if p.is_file() else p.name for p in src.iterdir() if p.name != "__pycache__"}
    units -= {"__init__", "__main__", "py.typed"}
    assert units == set(floor), "a new module needs a floor in FLOORS and in the picture"
    upward = []
    for path in src.rglob("*.py"):
        unit = path.relative_to(src).with_suffix("").parts[0]
        if unit == "__init__":
            continue
        for name in _imported_modules(path):
            parts = name.split(".")
            if parts[0] != "caviar" or len(parts) < 2 or parts[1] not in floor:
                continue
            if parts[1] != unit and floor[parts[1]] >= floor[unit]:
                upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert upward == []
