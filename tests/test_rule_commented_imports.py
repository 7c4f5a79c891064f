"""commented_imports: commented-out legacy import lines go; other comments stay."""

from __future__ import annotations

import pytest
from rule_helpers import check_rule

from codemods.rules.commented_imports import CommentedImports

C = ("migrated", "commented_imports")

CASES = {
    "two lines after the import block, blank line kept": (
        "import os\n# from metta.agent.policy_store import PolicyStore\n#from metta.agent.mocks import X, Y\n\n"
        "x = os.sep\n",
        "import os\n\nx = os.sep\n",
        [C, C],
    ),
    "between two blank lines: one blank line stays": (
        "import os\n\n# import metta.agent.policy_store as ps\n\nx = os.sep\n",
        "import os\n\nx = os.sep\n",
        [C],
    ),
    "inside a function, with a trailing comment": (
        "def f():\n    # from metta.sim.policy_wrapper import PolicyWrapper  # old\n    return 1\n",
        "def f():\n    return 1\n",
        [C],
    ),
    "at the top of the file": (
        "# from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\nx = 1\n",
        "x = 1\n",
        [C],
    ),
}

NO_CHANGE = {
    "a comment that only mentions a legacy module": "# see metta.agent.policy_store for the old code\nx = 1\n",
    "commented-out import of a non-legacy module": "# from app.old import thing\nx = 1\n",
    "a live legacy import is legacy_imports' business": "from metta.agent.policy_store import PolicyStore\n",
    "a trailing comment on a statement": "x = 1  # from metta.agent.policy_store import PolicyStore\n",
}


@pytest.mark.parametrize("name", CASES)
def test_rewrites(name: str) -> None:
    before, after, sites = CASES[name]
    check_rule(CommentedImports, before, after, sites=sites)


@pytest.mark.parametrize("name", NO_CHANGE)
def test_no_change(name: str) -> None:
    check_rule(CommentedImports, NO_CHANGE[name], NO_CHANGE[name])
