"""What the two golden tests share: migrate a copy of an example project, and read trees and markers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from codemods import runner
from codemods.config import find_config
from codemods.legacy import MARKER_PREFIX

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (caches left out), by posix path, as bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def assert_same_tree(root: Path, golden: Path) -> None:
    """The same file set, and every file byte for byte (a text diff first, for a readable failure)."""
    got, want = tree(root), tree(golden)
    assert sorted(got) == sorted(want), "file sets differ"
    for path in sorted(want):
        assert got[path].decode() == want[path].decode(), path
    assert got == want


def markers(root: Path) -> set[tuple[str, int]]:
    """(path, line of the marked statement) for every manual marker in a tree."""
    found = set()
    for path, data in tree(root).items():
        lines = data.decode().splitlines() if path.endswith(".py") else []
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith(MARKER_PREFIX) and not lines[number].strip().startswith(MARKER_PREFIX):
                found.add((path, number + 1))
    return found


def migrate(root: Path) -> runner.RunResult:
    """`apply` over the project at `root` (the current directory), asserting nothing failed."""
    result = runner.run([Path(".")], find_config(root), jobs=1)
    assert result.errors == []
    applied = runner.apply_changes(result)
    assert applied.errors == []
    return result


# What a team that follows the plan as written adds to legacy_full's pyproject.toml: every kind's simple choice
SIMPLE_DECISIONS = '\n[tool.tinyckpt-migrate]\ndecisions = "simple"\n'


def copy_example(tmp_path: Path, name: str, decisions: str = "") -> Path:
    """fixtures/<name> copied below `tmp_path` (caches left out), `decisions` appended to its pyproject.toml."""
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if decisions:
        with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
            handle.write(decisions)
    return root


def migrated_copy(tmp_path_factory: pytest.TempPathFactory, name: str,
                  decisions: str = "") -> Iterator[tuple[Path, runner.RunResult]]:
    """fixtures/<name> copied to a temporary directory (with `decisions` in its pyproject.toml) and migrated
    once, inside it (reported paths are relative to the project root)."""
    root = copy_example(tmp_path_factory.mktemp("golden"), name, decisions)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        yield root, migrate(root)


# What a person decides at legacy_half's two manual find_* sites (tinyckpt keeps no scores). With them
# decided, the next `apply` migrates the manager's whole unit across files (fixtures/README.md).
HALF_DECISIONS = {
    "metta/rl/checkpoint_report.py": [
        ('best = checkpoint_manager.find_best_checkpoint("score")', 'best = None  # decided: tinyckpt keeps no scores'),
        ("return checkpoint_manager.find_checkpoints_by_score(min_score)", "return []  # decided: no scores"),
    ],
}


def decide_half(root: Path) -> None:
    """Make HALF_DECISIONS in a copy of legacy_half (each statement is there exactly once)."""
    for rel, changes in HALF_DECISIONS.items():
        path = root / rel
        text = path.read_text(encoding="utf-8")
        for old, new in changes:
            assert text.count(old) == 1, (rel, old)
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
