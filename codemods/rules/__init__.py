"""The rules, in the order they run (the order matters: see the comment on each entry).

Each rule is one module of this package, named after what it rewrites; its class's `NAME` equals
the module name. The README's migration table and `fixtures/` name the same rules.
"""

from __future__ import annotations

from codemods.rules._base import LegacyRule
from codemods.rules.annotations import Annotations
from codemods.rules.checkpoint_manager import CheckpointManager
from codemods.rules.legacy_imports import LegacyImports

RULES: list[type[LegacyRule]] = [
    # (rules are registered here, in order, as they land)
    # CheckpointManager: before Annotations (it finds managers by their legacy annotations).
    CheckpointManager,
    # Annotations: after every rule that reads legacy annotations to find records, wrappers and managers.
    Annotations,
    # LegacyImports: last; removes each legacy import once the rules above left nothing that uses it.
    LegacyImports,
]

__all__ = ["RULES", "LegacyRule"]
