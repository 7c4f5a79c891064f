"""Issue 5 acceptance: migrating fixtures/legacy_half reproduces its hand-migrated golden exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from golden_helpers import FIXTURES, assert_same_tree, markers, migrated_copy

from codemods import runner
from codemods.config import find_config

GOLDEN = FIXTURES / "legacy_half_expected"
# a manual site still needs the store (tools/play.py); the manager is held back by find_best_checkpoint
KEPT = {"metta/sim/simple_policy_store.py", "metta/sim/policy_wrapper.py", "metta/rl/simple_checkpoint_manager.py"}


# Session scope: each pytest-xdist worker that runs tests of this module builds the fixture once, however
# the tests of other modules are interleaved with them.
@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, runner.RunResult]]:
    """The legacy project copied to a temporary directory and migrated once (shared by the tests)."""
    yield from migrated_copy(tmp_path_factory, "legacy_half")


def test_migration_reproduces_the_golden(migrated: tuple[Path, runner.RunResult]) -> None:
    """Every file byte for byte, deleted files absent."""
    root, _ = migrated
    assert_same_tree(root, GOLDEN)


def test_reported_sites_match_the_golden(migrated: tuple[Path, runner.RunResult]) -> None:
    root, result = migrated
    rule_manual = {(s.path, s.line) for s in result.manual if s.rule != runner.KEEP_RULE}
    assert rule_manual == markers(GOLDEN)
    assert {s.path for s in result.manual if s.rule == runner.KEEP_RULE} == KEPT
    assert result.deleted == []  # every legacy module is still needed (and its tests stay with it)
    # the one site that holds the manager back says so, and names every module the manager reaches
    [best] = [s for s in result.manual if "find_best_checkpoint" in s.message and s.rule == "checkpoint_manager"]
    assert "holds back 29 other sites of the same SimpleCheckpointManager and 43 sites that read the checkpoints" \
        in best.message
    for module in ("metta.rl.trainer", "tools.train", "tests.conftest", "metta.sim.evaluator", "tools.eval"):
        assert module in best.message
    # what migrates is what nothing needs: dangling and commented-out imports, the re-export and its __all__ entry
    assert {s.rule for s in result.migrated} == {"legacy_imports", "commented_imports"}


def test_second_run_changes_nothing(migrated: tuple[Path, runner.RunResult]) -> None:
    root, _ = migrated
    again = runner.run([Path(".")], find_config(root), jobs=1)
    assert again.errors == []
    assert [c.path for c in again.changes] == []
    assert not again.migrated
    # markers stay put; a rule still reports the ones it can still see (managers are now TinyCheckpointManager)
    assert {(s.path, s.line) for s in again.manual if s.rule != runner.KEEP_RULE} <= markers(GOLDEN)
    assert {s.path for s in again.manual if s.rule == runner.KEEP_RULE} == KEPT

