"""The full-legacy example project (fixtures/legacy_full) and its hand-migrated golden.

Both projects use the top-level package ``metta``: they only ever run in subprocesses with
cwd=<project root> and PYTHONPATH=<project root> (the golden imports tinyckpt from the venv).
"""

import ast
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pyflakes import checker, messages

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LEGACY = FIXTURES / "legacy_full"
GOLDEN = FIXTURES / "legacy_full_expected"
README = FIXTURES / "README.md"

MARKER = "# tinyckpt-migrate: manual: "
LEGACY_MODULES = {
    "metta.agent.policy_store",
    "metta.agent.policy_record",
    "metta.agent.policy_metadata",
    "metta.agent.policy_cache",
    "metta.agent.mocks",
    "metta.agent.mocks.mock_policy_record",
    "metta.rl.trainer_checkpoint",
}
# What the golden must look like at the file level (the reasons are in fixtures/README.md).
DELETED_IN_GOLDEN = {
    "metta/agent/policy_cache.py",
    "metta/agent/mocks/__init__.py",
    "metta/agent/mocks/mock_policy_record.py",
    "metta/rl/trainer_checkpoint.py",
    "tests/test_policy_cache.py",
}
# tests/test_policy_store.py only tests legacy modules that all stay: it stays with them, unchanged
KEPT_LEGACY_TESTS = {"tests/test_policy_store.py"}
# policy_store.py is needed by the manual sites in tools/sim.py, tools/play.py, tools/export.py and
# metta/sim/config.py; report.py's manual isinstance and tools/export.py's hand-built record need
# policy_record.py; both import policy_metadata.py.
KEPT_LEGACY_FILES = {"metta/agent/policy_store.py", "metta/agent/policy_record.py", "metta/agent/policy_metadata.py"}
MANUAL_SITES = {  # golden file -> first line of each statement directly below a marker
    "metta/sim/config.py": ['ranking: PolicySelectorConfig = field(default_factory=lambda: PolicySelectorConfig(type="top", n=3, metric="reward"))'],
    "metta/sim/report.py": ["if isinstance(policy, PolicyRecord):"],
    "tools/export.py": [
        'pr = PolicyRecord(policy_store, cfg.run, f"file://{path}", {"epoch": epoch})',
        "policy_store.save(pr)",
        "for pr in policy_store.policy_records(os.path.join(cfg.out_dir, cfg.run), selector_type=cfg.selector):",
    ],
    "tools/play.py": ["agent = policy_store.policy_record_or_mock(args.policy_uri, run_name=args.run).policy"],
    "tools/sim.py": [
        'for pr in policy_store.policy_records(uri, selector_type="top", n=cfg.ranking.n, metric="reward"):',
        'baseline_agent = policy_store.policy_record("wandb://run/navigation_baseline:v12").policy',
    ],
}

def _py_files(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def _all_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["OMP_NUM_THREADS"] = "1"  # tiny models: threads only add contention on a busy CI machine
    return env


# Session scope: each pytest-xdist worker that runs tests of this module builds the fixture once, however
# the tests of other modules are interleaved with them.
@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Run both projects' own test suites at once; their tmp dirs (``--basetemp``) are kept for inspection."""
    results = {}
    procs = {}
    for name, root in (("legacy", LEGACY), ("golden", GOLDEN)):
        basetemp = tmp_path_factory.mktemp(f"full_{name}")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::UserWarning", f"--basetemp={basetemp}"]
        procs[name] = subprocess.Popen(cmd, cwd=root, env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results[f"{name}_tmp"] = basetemp
    try:
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=180)
            results[name] = (proc.returncode, stdout, stderr)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def _count_tests(root: Path) -> int:
    return sum(len(_test_names(p)) for p in (root / "tests").glob("test_*.py"))


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every absolute import, at any depth (lazy ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [a.asname or a.name for a in node.names]))
    return found


def _is_legacy(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in LEGACY_MODULES)


def _module_file(module: str) -> str:
    return module.replace(".", "/") + ".py"


def _resolves(root: Path, module: str) -> bool:
    rel = Path(*module.split("."))
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def _marked_statements(path: Path) -> list[tuple[int, str]]:
    """(line, source text) of every statement directly below a manual marker (same indentation)."""
    text = path.read_text()
    lines = text.splitlines()
    starts = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.stmt):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            starts[first] = node
    found = []
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(MARKER):
            assert line.strip() != MARKER.strip() and len(line.strip()) > len(MARKER) + 10, f"{path}:{number}: empty reason"
            node = starts.get(number + 1)
            assert node is not None, f"{path}:{number}: marker not directly above a statement"
            indent = len(line) - len(line.lstrip())
            assert lines[number].startswith(" " * indent) and lines[number][indent] != " ", f"{path}:{number}: indentation"
            found.append((number + 1, "\n".join(lines[number: node.end_lineno])))
    return found


# -- the two projects run ------------------------------------------------------------------


@pytest.mark.parametrize("name, root", [("legacy", LEGACY), ("golden", GOLDEN)])
def test_project_tests_pass(runs, name, root):
    returncode, out, err = runs[name]
    assert returncode == 0, out[-4000:] + err[-4000:]
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) == _count_tests(root), out[-2000:]
    assert not re.search(r"\d+ (failed|errors?|skipped)", out), out[-2000:]


def _run_dirs(basetemp: Path) -> dict[str, Path]:
    """Every training run the suite left behind (a run dir holds the trainer's config.json)."""
    found = {}
    for config in basetemp.rglob("config.json"):
        found[f"{config.parent.parent.parent.name}/{config.parent.name}"] = config.parent
    return found


def test_golden_trains_resumes_and_evaluates_on_tinyckpt_files(runs):
    """train -> save -> resume -> evaluate in the golden writes tinyckpt's layout and nothing legacy."""
    assert runs["golden"][0] == 0
    run_dirs = _run_dirs(runs["golden_tmp"])
    assert len(run_dirs) >= 6
    for name, run_dir in run_dirs.items():
        assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoints", "config.json"], name  # no trainer_state.pt
        files = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
        epochs = sorted({int(re.fullmatch(r"(agent|trainer)_epoch_(\d+)\.pt", f)[2]) for f in files})
        assert epochs and files == sorted(f"{kind}_epoch_{e}.pt" for kind in ("agent", "trainer") for e in epochs), name
    [split] = [d for name, d in run_dirs.items() if name.endswith("/split")]  # trained to 2, then resumed to 4
    assert sorted(p.name for p in (split / "checkpoints").iterdir())[:2] == ["agent_epoch_2.pt", "agent_epoch_4.pt"]
    [db_path] = [p for p in runs["golden_tmp"].rglob("eval.sqlite") if "test_train_then_sim" in str(p)]
    with sqlite3.connect(db_path) as con:
        rows = con.execute("SELECT policy_key, run_name, policy_version FROM policies").fetchall()
    assert len(rows) == 1 and rows[0][1:] == ("cli_run", 2)
    assert rows[0][0].endswith("/cli_run/checkpoints/agent_epoch_2.pt")


def test_legacy_writes_the_legacy_layout(runs):
    """The two projects really differ on disk: the golden is not the legacy code under another name."""
    assert runs["legacy"][0] == 0
    run_dirs = _run_dirs(runs["legacy_tmp"])
    assert len(run_dirs) >= 6
    for name, run_dir in run_dirs.items():
        assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoints", "config.json", "trainer_state.pt"], name
        assert all(re.fullmatch(r"model_\d{4}\.pt", p.name) for p in (run_dir / "checkpoints").iterdir()), name


# -- the golden's shape ----------------------------------------------------------------------


def test_golden_file_set():
    legacy, golden = _all_files(LEGACY), _all_files(GOLDEN)
    assert golden <= legacy, "the migration never creates files"
    assert legacy - golden == DELETED_IN_GOLDEN
    for rel in DELETED_IN_GOLDEN:
        imports = {m for _, m, _ in _imports(LEGACY / rel) if m.split(".")[0] in ("metta", "tools")}
        if rel.startswith("tests/"):
            assert imports and all(_is_legacy(m) for m in imports), f"{rel} tests more than legacy classes"
        else:
            assert _is_legacy(rel[: -len(".py")].replace("/", ".").removesuffix(".__init__")), rel


def test_files_without_legacy_imports_are_byte_identical():
    for rel, path in _py_files(LEGACY).items():
        if rel in DELETED_IN_GOLDEN:
            continue
        untouched = rel in KEPT_LEGACY_FILES or not any(_is_legacy(m) for _, m, _ in _imports(path))
        if untouched:
            assert (GOLDEN / rel).read_bytes() == path.read_bytes(), rel
    for rel in _all_files(LEGACY) - set(_py_files(LEGACY)):
        assert (GOLDEN / rel).read_bytes() == (LEGACY / rel).read_bytes(), rel


def test_golden_test_functions_are_kept():
    for rel in _py_files(GOLDEN):
        if rel.startswith("tests/test_"):
            assert _test_names(GOLDEN / rel) == _test_names(LEGACY / rel), rel


def test_golden_is_pyflakes_clean_for_undefined_names_and_missing_modules():
    undefined = (messages.UndefinedName, messages.UndefinedExport, messages.UndefinedLocal)
    first_party = {p.name for p in GOLDEN.iterdir() if p.is_dir()}
    for rel, path in _py_files(GOLDEN).items():
        source = path.read_text()
        found = checker.Checker(ast.parse(source), filename=rel).messages
        assert not [str(m) for m in found if isinstance(m, undefined)], rel
        for line, module, _ in _imports(path):
            if module.split(".")[0] in first_party:
                assert _resolves(GOLDEN, module), f"{rel}:{line}: {module} is not in the golden tree"


def test_golden_manual_sites():
    found = {}
    for rel, path in _py_files(GOLDEN).items():
        statements = _marked_statements(path)
        if statements:
            found[rel] = [text.splitlines()[0].strip() for _, text in statements]
            legacy_text = (LEGACY / rel).read_text()
            for _, text in statements:
                assert text in legacy_text, f"{rel}: a manual site must stay byte-identical"
                assert MARKER not in legacy_text
    assert found == MANUAL_SITES
    assert sum(map(len, found.values())) >= 3


def test_golden_keeps_only_the_legacy_imports_manual_sites_need():
    """A legacy import survives only in a file with a manual site (and is used there), or in a
    legacy module that such a file still needs (transitively); every kept legacy module is needed."""
    needed_modules = set()
    frontier = []
    for rel, path in _py_files(GOLDEN).items():
        legacy_imports = [(line, m, names) for line, m, names in _imports(path) if _is_legacy(m)]
        if rel in KEPT_LEGACY_FILES:
            continue
        if rel in KEPT_LEGACY_TESTS:
            assert path.read_bytes() == (LEGACY / rel).read_bytes()
            continue
        if legacy_imports:
            assert rel in MANUAL_SITES, f"{rel}: legacy import without a manual site: {legacy_imports}"
            unused = [str(m) for m in checker.Checker(ast.parse(path.read_text()), filename=rel).messages
                      if isinstance(m, messages.UnusedImport)]
            assert not unused, f"{rel}: {unused}"
            frontier += [m for _, m, _ in legacy_imports]
    while frontier:
        module = frontier.pop()
        if module in needed_modules:
            continue
        needed_modules.add(module)
        frontier += [m for _, m, _ in _imports(GOLDEN / _module_file(module)) if _is_legacy(m)]
    assert {_module_file(m) for m in needed_modules} == KEPT_LEGACY_FILES
    for rel in KEPT_LEGACY_FILES:
        assert (GOLDEN / rel).is_file()


# -- fixtures/README.md: the usage-shape table points at the right lines -----------------------


def _readme_section() -> str:
    text = README.read_text()
    start = text.index("## legacy_full: usage shapes")
    end = text.find("<!-- section:", start)
    return text[start: end if end != -1 else len(text)]


def test_readme_shape_table_points_at_real_lines():
    rows = re.findall(r"^\| (.+?) \| `([^`:]+):(\d+)` \| `(.+?)` \|$", _readme_section(), flags=re.MULTILINE)
    assert len({shape for shape, _, _, _ in rows}) >= 25
    for shape, rel, line, snippet in rows:
        lines = (LEGACY / rel).read_text().splitlines()
        assert snippet.replace("\\|", "|") in lines[int(line) - 1], f"{shape}: {rel}:{line} does not contain {snippet!r}"


def test_readme_lists_every_manual_site():
    section = _readme_section()
    for rel, path in _py_files(GOLDEN).items():
        for line, _ in _marked_statements(path):
            assert f"`{rel}:{line}`" in section, f"{rel}:{line} missing from the README's manual-site list"
