"""PolicySelectorConfig / PolicySelectorType settings -> manual: tinyckpt has no selectors or metrics."""

from __future__ import annotations

from collections.abc import Iterable

from codemods.analysis import Analysis
from codemods.edits import Edit
from codemods.rules._rule import Rule

SELECTORS = frozenset({"PolicySelectorConfig", "PolicySelectorType"})
REASON = ("{name} (selectors top/rand, metrics) has no tinyckpt counterpart; decide how this setting picks "
          "checkpoints")


class PolicySelectorConfig(Rule):
    NAME = "policy_selector_config"
    DESCRIPTION = "Uses of PolicySelectorConfig / PolicySelectorType (not their imports) -> manual."

    def plan(self, a: Analysis) -> Iterable[Edit]:
        seen: set[tuple[int, str]] = set()
        for node, legacy, _ in a.walk.legacy_refs:
            if legacy in SELECTORS:
                key = (id(a.statement_of(node)), legacy)
                if key not in seen:  # one site per statement
                    seen.add(key)
                    yield self.manual(node, REASON.format(name=legacy))
