"""PolicySelectorConfig / PolicySelectorType settings -> manual: tinyckpt has no selectors or metrics."""

from __future__ import annotations

import libcst as cst

from codemods.rules._base import LegacyRule
from codemods.rules._quick import legacy_only, mentions

SELECTORS = frozenset({"PolicySelectorConfig", "PolicySelectorType"})
REASON = ("{name} (selectors top/rand, metrics) has no tinyckpt counterpart; decide how this setting picks "
          "checkpoints")


class PolicySelectorConfig(LegacyRule):
    NAME = "policy_selector_config"
    DESCRIPTION = "Uses of PolicySelectorConfig / PolicySelectorType (not their imports) -> manual."

    def transform_module(self, tree: cst.Module) -> cst.Module:
        return super().transform_module(tree) if mentions(tree, self.config, SELECTORS) else tree

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Module(self, node: cst.Module) -> None:
        self._reported: set[tuple[int, str]] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self._check(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._check(node)

    def _check(self, node: cst.CSTNode) -> None:
        legacy = legacy_only(self, node)
        statement = id(self._statements[-1]) if self._statements else 0
        if legacy in SELECTORS and (statement, legacy) not in self._reported:
            self._reported.add((statement, legacy))  # one site per statement
            self.manual(node, REASON.format(name=legacy))
