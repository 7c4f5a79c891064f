"""Issue 14 acceptance: legacy_full with every decision taken (`decisions = "simple"` in its pyproject.toml)
migrates whole: the hand-checked golden fixtures/legacy_full_decided_expected, no manual site, every legacy
module deleted, the project's own tests pass, and a second `apply` changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from golden_helpers import (
    FIXTURES,
    SIMPLE_DECISIONS,
    assert_same_tree,
    migrate,
    migrated_copy,
    tree,
)

from codemods import runner
from codemods.config import find_config
from codemods.decisions import KINDS, kind_of

GOLDEN = FIXTURES / "legacy_full_decided_expected"
LEGACY_FILES = ("metta/agent/policy_store.py", "metta/agent/policy_record.py", "metta/agent/policy_metadata.py",
                "metta/agent/policy_cache.py", "metta/agent/mocks/__init__.py",
                "metta/agent/mocks/mock_policy_record.py", "metta/rl/trainer_checkpoint.py")


@pytest.fixture(scope="session")
def decided(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, runner.RunResult]]:
    yield from migrated_copy(tmp_path_factory, "legacy_full", SIMPLE_DECISIONS)


def test_every_decision_taken_reproduces_the_golden(decided: tuple[Path, runner.RunResult]) -> None:
    root, _ = decided
    assert_same_tree(root, GOLDEN)


def test_no_manual_site_and_every_legacy_module_deleted(decided: tuple[Path, runner.RunResult]) -> None:
    root, result = decided
    assert result.manual == []
    assert not [f for f in LEGACY_FILES if (root / f).exists()]
    # every kind with a choice that the undecided example has was decided here (the notes name them)
    undecided = runner.run([FIXTURES / "legacy_full"], find_config(FIXTURES / "legacy_full"), jobs=1)
    codes = {kind_of(s.rule, s.message).code for s in undecided.manual if s.rule != runner.KEEP_RULE}  # type: ignore[union-attr]
    notes = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    for kind in KINDS:
        if kind.code in codes and kind.choices:
            assert f"# tinyckpt-migrate: decided: {kind.code} {kind.name} = {kind.simple}" in notes, kind.code


def test_the_projects_own_tests_pass_after_apply(decided: tuple[Path, runner.RunResult]) -> None:
    root, _ = decided
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]


def test_second_apply_changes_nothing(decided: tuple[Path, runner.RunResult]) -> None:
    root, _ = decided
    before = tree(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        again = migrate(root)
    assert not again.changes and tree(root) == before
