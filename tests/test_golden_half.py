"""Issue 5 acceptance: migrating fixtures/legacy_half reproduces its hand-migrated golden exactly."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from codemods import runner
from codemods.config import find_config
from codemods.rules._base import MARKER_PREFIX

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LEGACY, GOLDEN = FIXTURES / "legacy_half", FIXTURES / "legacy_half_expected"
KEPT = {"metta/sim/simple_policy_store.py", "metta/sim/policy_wrapper.py"}  # a manual site still needs the store


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def _markers(root: Path) -> set[tuple[str, int]]:
    """(path, line of the marked statement) for every manual marker in a tree."""
    found = set()
    for path, data in _tree(root).items():
        lines = data.decode().splitlines() if path.endswith(".py") else []
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith(MARKER_PREFIX) and not lines[number].strip().startswith(MARKER_PREFIX):
                found.add((path, number + 1))
    return found


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, runner.RunResult]]:
    """The legacy project copied to a temporary directory and migrated once (shared by the tests)."""
    root = tmp_path_factory.mktemp("golden") / "legacy_half"
    shutil.copytree(LEGACY, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # reported paths are relative to the project root
        result = runner.run([Path(".")], find_config(root), jobs=1)
        assert result.errors == []
        applied = runner.apply_changes(result)
        assert applied.errors == []
        yield root, result


def test_migration_reproduces_the_golden(migrated: tuple[Path, runner.RunResult]) -> None:
    """Every file byte for byte (tests/test_trainer.py too: it reaches the rules through the checkpoint_manager
    rule's fixture-name needles), deleted files absent."""
    root, _ = migrated
    got, want = _tree(root), _tree(GOLDEN)
    assert sorted(got) == sorted(want), "file sets differ"
    for path in sorted(want):
        assert got[path].decode() == want[path].decode(), path
    assert got == want


def test_reported_sites_match_the_golden(migrated: tuple[Path, runner.RunResult]) -> None:
    root, result = migrated
    rule_manual = {(s.path, s.line) for s in result.manual if s.rule != runner.KEEP_RULE}
    assert rule_manual == _markers(GOLDEN)
    assert {s.path for s in result.manual if s.rule == runner.KEEP_RULE} == KEPT
    assert {c.path for c in result.deleted} == {"metta/rl/simple_checkpoint_manager.py",
                                                "tests/test_simple_checkpoint_manager.py"}
    assert len(result.migrated) > 40  # every shape of fixtures/README.md is a migrated or manual site


def test_second_run_changes_nothing(migrated: tuple[Path, runner.RunResult]) -> None:
    root, _ = migrated
    again = runner.run([Path(".")], find_config(root), jobs=1)
    assert again.errors == []
    assert [c.path for c in again.changes] == []
    assert not again.migrated
    # markers stay put; a rule still reports the ones it can still see (managers are now TinyCheckpointManager)
    assert {(s.path, s.line) for s in again.manual if s.rule != runner.KEEP_RULE} <= _markers(GOLDEN)
    assert {s.path for s in again.manual if s.rule == runner.KEEP_RULE} == KEPT

