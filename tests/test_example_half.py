"""The half-migrated example project (fixtures/legacy_half) and its hand-migrated golden.

Both projects use the top-level package ``metta``: they only ever run in subprocesses with
cwd=<project root> and PYTHONPATH=<project root> (the golden imports tinyckpt from the venv).
"""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_helpers import decide_half
from pyflakes import checker, messages

from codemods import runner
from codemods.config import find_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LEGACY = FIXTURES / "legacy_half"
GOLDEN = FIXTURES / "legacy_half_expected"
README = FIXTURES / "README.md"

MARKER = "# tinyckpt-migrate: manual: "
LEGACY_MODULES = {
    "metta.agent.policy_store",
    "metta.agent.policy_record",
    "metta.agent.policy_metadata",
    "metta.agent.policy_cache",
    "metta.agent.mocks",
    "metta.agent.mocks.mock_policy_record",
    "metta.rl.simple_checkpoint_manager",
    "metta.rl.trainer_checkpoint",
    "metta.sim.simple_policy_store",
    "metta.sim.policy_wrapper",
}
# legacy modules already deleted in the half-migrated state (their imports dangle)
ALREADY_DELETED = {m for m in LEGACY_MODULES if m.startswith("metta.agent.") or m == "metta.rl.trainer_checkpoint"}
# The golden deletes nothing: find_best_checkpoint (manual) holds back the one SimpleCheckpointManager that flows from
# tools/train.py through Trainer, the fixtures and write_run_summary, and that manager still writes the legacy layout,
# so everything that reads checkpoints (the wrappers of SimplePolicyStore, open_run's manager) stays too; tools/play.py
# has two manual store calls of its own. Only what nothing needs goes: dangling and commented-out imports of deleted
# modules, the re-export in metta/rl/__init__.py (its one importer now imports from the module itself).
DELETED_IN_GOLDEN: set[str] = set()
KEPT_LEGACY_FILES = {"metta/rl/simple_checkpoint_manager.py", "tests/test_simple_checkpoint_manager.py",
                     "metta/sim/simple_policy_store.py", "metta/sim/policy_wrapper.py"}
ALLOWED_GOLDEN_LEGACY_IMPORTS = {  # every file of the held-back units, and the two manual store calls of tools/play.py
    ("metta/rl/checkpoint_report.py", "metta.rl.simple_checkpoint_manager"),
    ("metta/rl/trainer.py", "metta.rl.simple_checkpoint_manager"),
    ("metta/sim/evaluator.py", "metta.sim.policy_wrapper"),
    ("metta/sim/evaluator.py", "metta.sim.simple_policy_store"),
    ("metta/sim/leaderboard.py", "metta.sim.policy_wrapper"),
    ("metta/sim/simple_policy_store.py", "metta.sim.policy_wrapper"),
    ("tests/conftest.py", "metta.rl.simple_checkpoint_manager"),
    ("tests/test_evaluator.py", "metta.sim.simple_policy_store"),
    ("tests/test_simple_checkpoint_manager.py", "metta.rl.simple_checkpoint_manager"),
    ("tests/test_tools.py", "metta.rl.simple_checkpoint_manager"),
    ("tools/eval.py", "metta.sim.simple_policy_store"),
    ("tools/play.py", "metta.sim.simple_policy_store"),
    ("tools/train.py", "metta.rl.simple_checkpoint_manager"),
}
MANUAL_SITES = {  # golden file -> the statements directly below a marker
    "metta/rl/checkpoint_report.py": [
        'best = checkpoint_manager.find_best_checkpoint("score")',
        "return checkpoint_manager.find_checkpoints_by_score(min_score)",
    ],
    "tools/play.py": [
        "pr = store.policy_record_or_mock(args.policy_uri, args.run_name)",
        'baseline = store.policy_record("wandb://run/baseline:v3")',
    ],
    # held_back: the first site, per file and unit, of what find_best_checkpoint keeps legacy elsewhere
    "metta/rl/trainer.py": ["def __init__(self, cfg: TrainerConfig, checkpoint_manager: SimpleCheckpointManager):"],
    "metta/sim/evaluator.py": [
        "def evaluate_record(pr: PolicyWrapper, episodes: int = 4) -> EvalResult:",
        "def pick_record(records: list[PolicyWrapper], run_name: str) -> Optional[PolicyWrapper]:",
    ],
    "metta/sim/leaderboard.py": [
        "def describe_record(pr: PolicyRecord) -> str:",
        "def leaderboard(results: dict[str, EvalResult]) -> list[str]:",
    ],
    "tests/conftest.py": ["@pytest.fixture"],
    "tests/test_evaluator.py": [
        "result = evaluate_policy(store, os.path.join(train_root, trained_manager.run_name))",
        'assert (result.run_name, result.epoch) == ("test_run", 4)',
        'records = [store.policy_record(f"file://{trained_manager.checkpoint_dir}")]',
    ],
    "tests/test_tools.py": ['checkpoint_manager: SimpleCheckpointManager = open_run("default_run")'],
    "tests/test_trainer.py": ["assert trained_manager.run_name == RUN"],
    "tools/eval.py": [
        'print(json.dumps({run: {"epoch": r.epoch, "reward": r.reward} for run, r in results.items()}, sort_keys=True))'],
    "tools/train.py": [
        'print(f"{checkpoint_manager.run_name}: {epochs_run} epochs, now at epoch {trainer.epoch}; checkpoints in '
        '{checkpoint_manager.checkpoint_dir}")'],
}


def _py_files(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


_GOLDEN_SCRIPT = """\
import sys
from tools.train import main as train
from tools.eval import main as evaluate
root = sys.argv[1]
assert train(['--run', 'r', '--data-dir', root, '--epochs', '4']) == 0
assert train(['--run', 'r', '--data-dir', root, '--epochs', '6']) == 0
assert evaluate(['file://' + root + '/r']) == 0
"""


# Session scope: each pytest-xdist worker that runs tests of this module builds the fixture once, however
# the tests of other modules are interleaved with them.
@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Start the three subprocesses at once (they are independent), then collect them."""
    out_dir = tmp_path_factory.mktemp("half_run")
    decided = out_dir / "decided"  # the legacy project with its find_* sites decided, then migrated by apply
    shutil.copytree(LEGACY, decided, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    decide_half(decided)
    migrated = runner.run([decided], find_config(decided), jobs=1)
    assert migrated.errors == [] and runner.apply_changes(migrated).errors == []
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::UserWarning"]
    procs = {
        "legacy": subprocess.Popen(pytest_cmd, cwd=LEGACY, env=_env(LEGACY), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "golden": subprocess.Popen(pytest_cmd, cwd=GOLDEN, env=_env(GOLDEN), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        "script": subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", _GOLDEN_SCRIPT, str(out_dir / "golden")],
            cwd=GOLDEN, env=_env(GOLDEN), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ),
        "decided": subprocess.Popen(pytest_cmd, cwd=decided, env=_env(decided), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True),
        "script_decided": subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", _GOLDEN_SCRIPT, str(out_dir / "decided_run")],
            cwd=decided, env=_env(decided), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ),
        "script_legacy": subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", _GOLDEN_SCRIPT, str(out_dir / "legacy")],
            cwd=LEGACY, env=_env(LEGACY), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ),
    }
    results = {}
    try:
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=180)
            results[name] = (proc.returncode, stdout, stderr)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results["out_dir"], results["decided_root"], results["decided_result"] = out_dir, decided, migrated
    return results


def _count_tests(root: Path) -> int:
    count = 0
    for path in (root / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text())
        count += sum(isinstance(n, ast.FunctionDef) and n.name.startswith("test_") for n in tree.body)
    return count


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in the file, at any depth, incl. function-local ones."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _is_legacy(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in LEGACY_MODULES)


def _resolves(root: Path, module: str) -> bool:
    rel = Path(*module.split("."))
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


@pytest.mark.parametrize("name, root", [("legacy", LEGACY), ("golden", GOLDEN)])
def test_project_tests_pass(runs, name, root):
    returncode, out, err = runs[name]
    assert returncode == 0, out[-4000:] + err[-4000:]
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) == _count_tests(root), out[-2000:]
    assert not re.search(r"\d+ (failed|errors?|skipped)", out), out[-2000:]


def test_golden_runs_exactly_like_the_legacy_project(runs):
    """train -> resume -> evaluate: a manager passed across modules, held back by one manual site, behaves as before
    (same output, same files on disk): nothing of it was half migrated."""
    results = {}
    for name in ("script", "script_legacy"):
        returncode, out, err = runs[name]
        assert returncode == 0, err[-3000:]
        run_dir = runs["out_dir"] / ("golden" if name == "script" else "legacy") / "r"
        results[name] = (out.replace(str(runs["out_dir"] / "golden"), "ROOT").replace(str(runs["out_dir"] / "legacy"), "ROOT"),
                         sorted(p.name for p in (run_dir / "checkpoints").iterdir()))
    assert results["script"] == results["script_legacy"]
    assert "model_0006.pt" in results["script"][1] and '"r": {"epoch": 6' in results["script"][0]


def test_golden_file_set():
    legacy, golden = set(_py_files(LEGACY)), set(_py_files(GOLDEN))
    assert legacy - golden == DELETED_IN_GOLDEN
    assert golden <= legacy
    for rel in sorted(p.relative_to(LEGACY).as_posix() for p in LEGACY.rglob("*") if p.is_file()):
        if "__pycache__" in rel or rel in DELETED_IN_GOLDEN:
            continue
        assert (GOLDEN / rel).is_file(), rel
    for rel in KEPT_LEGACY_FILES:  # kept legacy modules are byte-identical
        assert (GOLDEN / rel).read_bytes() == (LEGACY / rel).read_bytes()


def test_legacy_project_has_dangling_imports():
    """The half-migrated state: the old modules are gone, imports of them are not."""
    dangling = set()
    for rel, path in _py_files(LEGACY).items():
        for _, module in _imports(path):
            if module in ALREADY_DELETED:
                assert not _resolves(LEGACY, module), module
                dangling.add(rel)
    assert {"metta/rl/trainer.py", "metta/sim/evaluator.py"} <= dangling
    commented = [rel for rel, p in _py_files(LEGACY).items() if re.search(r"^\s*# from metta\.agent\.", p.read_text(), re.MULTILINE)]
    assert len(commented) >= 2


def test_golden_is_pyflakes_clean():
    bad = (
        messages.UndefinedName,
        messages.UndefinedLocal,
        messages.UndefinedExport,
        messages.UnusedImport,
        messages.RedefinedWhileUnused,
        messages.ImportShadowedByLoopVar,
    )
    problems = []
    for rel, path in _py_files(GOLDEN).items():
        tree = ast.parse(path.read_text(), filename=rel)
        for message in checker.Checker(tree, filename=rel).messages:
            if isinstance(message, bad):
                problems.append(str(message))
    assert problems == []


def test_golden_imports_resolve_and_no_legacy_import_left():
    legacy_imports = set()
    for rel, path in _py_files(GOLDEN).items():
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in ("metta", "tools"):
                # the module, or (for `from m import name`) its parent module, is a file of the golden
                assert _resolves(GOLDEN, module) or _resolves(GOLDEN, module.rsplit(".", 1)[0]), f"{rel}:{line} {module}"
            if _is_legacy(module) and not _is_legacy(module.rsplit(".", 1)[0]):
                legacy_imports.add((rel, module))
    assert legacy_imports == ALLOWED_GOLDEN_LEGACY_IMPORTS
    # while the manager is held back nothing reads or writes the tinyckpt layout (it would not find the checkpoints)
    assert not any(module.startswith("tinyckpt") for p in _py_files(GOLDEN).values() for _, module in _imports(p))


def test_golden_manual_markers():
    found = {}
    for rel, path in _py_files(GOLDEN).items():
        lines = path.read_text().splitlines()
        legacy_lines = (LEGACY / rel).read_text().splitlines()
        for i, line in enumerate(lines):
            if MARKER.strip() in line:
                assert line.lstrip().startswith(MARKER) and len(line.strip()) > len(MARKER), line
                below = lines[i + 1]
                assert len(below) - len(below.lstrip()) == len(line) - len(line.lstrip())  # same indentation
                assert below in legacy_lines  # the manual statement is left as it was
                found.setdefault(rel, []).append(below.strip())
    assert found == MANUAL_SITES
    assert not any(MARKER.strip() in p.read_text() for p in _py_files(LEGACY).values())


def _readme_rows() -> list[list[str]]:
    text = README.read_text()
    section = text.split("## legacy_half: usage shapes", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and re.fullmatch(r"`[^`]+:\d+`", cells[1]):
            rows.append(cells)
    return rows


def test_readme_shape_table_points_at_the_code():
    rows = _readme_rows()
    assert len({row[0] for row in rows}) >= 25
    for shape, location, excerpt, *_ in rows:
        rel, line = location.strip("`").rsplit(":", 1)
        lines = (LEGACY / rel).read_text().splitlines()
        code = excerpt.strip("`").replace("\\|", "|")
        assert code in lines[int(line) - 1], f"{shape}: {rel}:{line} does not contain {code!r}"


def test_once_the_manual_sites_are_decided_the_whole_unit_migrates(runs):
    """The manager unit the golden holds back migrates in one `apply` once its two find_* sites are decided:
    every file it reaches, its readers too; the project's own tests pass and train -> resume -> evaluate
    writes and reads the tinyckpt layout."""
    root, result = runs["decided_root"], runs["decided_result"]
    assert "metta/rl/simple_checkpoint_manager.py" not in _py_files(root)
    assert not [s for s in result.manual if s.rule not in ("simple_policy_store", runner.KEEP_RULE)], result.manual
    for rel, path in _py_files(root).items():  # nothing of the manager is left (prose aside), nor a held_back marker
        text = path.read_text()
        names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
        assert "SimpleCheckpointManager" not in names and "stays legacy" not in text, rel
        assert not [m for _, m in _imports(path) if m.startswith("metta.rl.simple_checkpoint_manager")], rel
    returncode, out, err = runs["decided"]
    assert returncode == 0, out[-4000:] + err[-4000:]
    assert int(re.search(r"(\d+) passed", out).group(1)) == _count_tests(root)
    returncode, out, err = runs["script_decided"]
    assert returncode == 0, err[-3000:]
    written = sorted(p.name for p in (runs["out_dir"] / "decided_run" / "r" / "checkpoints").iterdir())
    assert "agent_epoch_6.pt" in written and not [name for name in written if name.startswith("model_")]
