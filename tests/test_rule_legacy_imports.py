"""legacy_imports: legacy imports in every form go once unused; used ones stay; the target import is sorted."""

from __future__ import annotations

import pytest
from rule_helpers import check_rule

from codemods.rules.legacy_imports import LegacyImports

REMOVED = ("migrated", "legacy_imports")

CASES = {
    "module level, unused": (
        "import os\nfrom metta.sim.policy_wrapper import PolicyWrapper\n\nx = os.sep\n",
        "import os\n\nx = os.sep\n",
        [REMOVED],
    ),
    "one of two names unused": (
        "from metta.agent.policy_store import PolicyStore, PolicySelectorType\n\nPolicyStore()\n",
        "from metta.agent.policy_store import PolicyStore\n\nPolicyStore()\n",
        [REMOVED],
    ),
    "parenthesized import keeps its layout": (
        "from metta.agent.policy_store import (\n    PolicyStore,\n    PolicySelectorType,\n)\n\nPolicyStore()\n",
        "from metta.agent.policy_store import (\n    PolicyStore,\n)\n\nPolicyStore()\n",
        [REMOVED],
    ),
    "aliased name kept, other name removed": (
        "from metta.agent.policy_store import PolicyStore as PS, PolicySelectorType\n\nPS()\n",
        "from metta.agent.policy_store import PolicyStore as PS\n\nPS()\n",
        [REMOVED],
    ),
    "plain module import": (
        "import metta.agent.policy_store\nimport json\n",
        "import json\n",
        [REMOVED],
    ),
    "function-local import, body keeps going": (
        'def f():\n    """Doc."""\n    from metta.agent.policy_store import PolicyStore\n    return 1\n',
        'def f():\n    """Doc."""\n    return 1\n',
        [REMOVED],
    ),
    "function-local import is the whole body": (
        "def f():\n    from metta.agent.policy_store import PolicyStore\n",
        "def f():\n    pass\n",
        [REMOVED],
    ),
    "TYPE_CHECKING block removed whole, TYPE_CHECKING too": (
        "from typing import TYPE_CHECKING, Optional\n\nif TYPE_CHECKING:\n"
        "    from metta.agent.policy_record import PolicyRecord  # noqa: F401\n\nx: Optional[int] = None\n",
        "from typing import Optional\n\nx: Optional[int] = None\n",
        [REMOVED],
    ),
    "try/except ImportError with a None fallback": (
        "try:\n    from metta.agent.policy_cache import PolicyCache\nexcept ImportError:  # gone\n"
        "    PolicyCache = None\n\nx = 1\n",
        "x = 1\n",
        [REMOVED],
    ),
    "late noqa import at the end": (
        "x = 1\n\n\nfrom metta.sim.policy_wrapper import PolicyRecord  # noqa: E402,F401\n",
        "x = 1\n",
        [REMOVED],
    ),
    "re-export and __all__ entry in a package": (
        'from metta.rl.trainer import Trainer\nfrom metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n\n'
        '__all__ = ["Trainer", "SimpleCheckpointManager"]\n',
        'from metta.rl.trainer import Trainer\n\n__all__ = ["Trainer"]\n',
        [REMOVED],
    ),
    "target import names sorted": (
        "from tinyckpt import latest_checkpoint, TinyCheckpointManager\n\nTinyCheckpointManager, latest_checkpoint\n",
        "from tinyckpt import TinyCheckpointManager, latest_checkpoint\n\nTinyCheckpointManager, latest_checkpoint\n",
        [],
    ),
}

MARKER = "# tinyckpt-migrate: manual: "
REBOUND = ("manual", "legacy_imports")

#: A legacy import whose name the module binds again (a dangling import, then the module's own class,
#: function or another import): scope analysis cannot tell which binding a use means, so the import
#: is kept and marked (never removed, never left silently).
REBOUND_CASES = {
    "rebound by a class": (
        "from metta.agent.policy_metadata import PolicyMetadata\n\n\nclass PolicyMetadata(dict):\n    pass\n\n\n"
        "meta = PolicyMetadata(epoch=1)\n",
        "a class of the same name"),
    "rebound by a function": (
        "from metta.agent.policy_metadata import PolicyMetadata\n\n\ndef PolicyMetadata(**kw):\n    return kw\n\n\n"
        "meta = PolicyMetadata(epoch=1)\n",
        "a function of the same name"),
    "rebound by another import": (
        "from metta.sim.policy_wrapper import PolicyRecord\nfrom other.records import PolicyRecord\n\n\n"
        "def use(uri):\n    return PolicyRecord(uri)\n",
        "another import of the same name"),
}


@pytest.mark.parametrize("name", REBOUND_CASES)
def test_rebound_legacy_import_is_kept_and_marked(name: str) -> None:
    before, how = REBOUND_CASES[name]
    first, rest = before.split("\n", 1)
    alias = first.rsplit(" ", 1)[1]
    reason = (f"{alias} is imported from a legacy module and bound again by {how}; decide which one its uses mean "
              "(then remove this import)")
    check_rule(LegacyImports, before, f"{MARKER}{reason}\n{first}\n{rest}", sites=[REBOUND], flakes=False)


NO_CHANGE = {
    "legacy import still used (a manual site needs it)":
        "from metta.sim.simple_policy_store import SimplePolicyStore\n\nstore = SimplePolicyStore.create()\n",
    "legacy name used only in a string annotation": (
        "from metta.sim.policy_wrapper import PolicyWrapper\n\n\ndef f(x: 'PolicyWrapper') -> None:\n    pass\n"),
    "unused import of an unrelated module": "import json\nfrom app.store import SimplePolicyStore\n",
    "a commented-out legacy import is commented_imports' business": (
        "import os\n# from metta.agent.policy_store import PolicyStore\nx = os.sep\n"),
    "try/except whose fallback is used": (
        "try:\n    from metta.agent.policy_cache import PolicyCache\nexcept ImportError:\n    PolicyCache = None\n\n"
        "print(PolicyCache)\n"),
    "a late import used by an annotation above it (found by the type-checker oracle)": (
        "from __future__ import annotations\n\n\ndef f(selector: policy_store.PolicySelectorConfig) -> None:\n"
        "    pass\n\n\nclass C:\n    kind: PolicySelectorType\n\n\n"
        "from metta.agent import policy_store  # noqa: E402\n"
        "from metta.agent.policy_store import PolicySelectorType  # noqa: E402\n"),
    "TYPE_CHECKING block with a live import": (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from app.x import Y\n\n\ndef f(y: 'Y') -> None:\n"
        "    pass\n"),
}


@pytest.mark.parametrize("name", CASES)
def test_rewrites(name: str) -> None:
    before, after, sites = CASES[name]
    check_rule(LegacyImports, before, after, sites=sites, flakes=False)


@pytest.mark.parametrize("name", NO_CHANGE)
def test_no_change(name: str) -> None:
    check_rule(LegacyImports, NO_CHANGE[name], NO_CHANGE[name])


def test_kept_import_through_a_reexport_imports_from_the_defining_module() -> None:
    """The re-export is removed from the package, so a consumer that still needs the name imports it from
    the legacy module itself (which the deletion planner then keeps)."""
    package = "from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n"
    before = "from metta.rl import SimpleCheckpointManager\n\nSimpleCheckpointManager.find_best_checkpoint\n"
    after = ("from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n\n"
             "SimpleCheckpointManager.find_best_checkpoint\n")
    check_rule(LegacyImports, before, after, sites=[REMOVED], others={"metta.rl": package},
               module_name="app.cli")


def test_relative_legacy_import() -> None:
    before = "from .policy_store import PolicyStore\nx = 1\n"
    check_rule(LegacyImports, before, "x = 1\n", sites=[REMOVED], module_name="metta.agent.trainer_tools")


def test_legacy_module_files_are_left_alone() -> None:
    source = "from metta.agent.policy_record import PolicyRecord\n"
    check_rule(LegacyImports, source, source, module_name="metta.agent.policy_store")


def test_removing_the_first_import_of_a_group_keeps_the_blank_line_between_groups() -> None:
    """isort/ruff groups: the blank line above a removed import stays on what follows it (one, not two)."""
    before = ("import os\nfrom pathlib import Path\n\nfrom metta.agent.policy_metadata import PolicyMetadata\n"
              "from app.records import load\n\nx = os, Path, load\n")
    after = "import os\nfrom pathlib import Path\n\nfrom app.records import load\n\nx = os, Path, load\n"
    check_rule(LegacyImports, before, after, sites=[REMOVED])


def test_a_group_that_becomes_empty_leaves_one_blank_line() -> None:
    before = ("import os\n\nfrom metta.agent.policy_metadata import PolicyMetadata\n\nfrom app.records import load\n"
              "\nx = os, load\n")
    after = "import os\n\nfrom app.records import load\n\nx = os, load\n"
    check_rule(LegacyImports, before, after, sites=[REMOVED])
