"""PolicyCache -> manual: tinyckpt keeps no cache of loaded agents (tests that only test it are deleted)."""

from __future__ import annotations

import libcst as cst

from codemods.rules._base import LegacyRule
from codemods.rules._quick import legacy_only, mentions

CLASS = "PolicyCache"
REASON = "PolicyCache has no tinyckpt counterpart (agents are loaded with torch.load); decide whether this cache stays"


class PolicyCache(LegacyRule):
    NAME = "policy_cache"
    DESCRIPTION = "Uses of PolicyCache outside the test files that only test it -> manual (nothing to rewrite it to)."

    def transform_module(self, tree: cst.Module) -> cst.Module:
        return super().transform_module(tree) if mentions(tree, self.config, (CLASS,)) else tree

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if legacy_only(self, node) == CLASS:
            self.manual(node, REASON)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if legacy_only(self, node) == CLASS:
            self.manual(node, REASON)
