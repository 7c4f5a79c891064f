"""PolicyCache -> manual: tinyckpt keeps no cache of loaded agents (tests that only test it are deleted)."""

from __future__ import annotations

from collections.abc import Iterable

from codemods.analysis import Analysis
from codemods.edits import Edit
from codemods.rules._rule import Rule

CLASS = "PolicyCache"
REASON = "PolicyCache has no tinyckpt counterpart (agents are loaded with torch.load); decide whether this cache stays"


class PolicyCache(Rule):
    NAME = "policy_cache"
    DESCRIPTION = "Uses of PolicyCache outside the test files that only test it -> manual (nothing to rewrite it to)."

    def plan(self, a: Analysis) -> Iterable[Edit]:
        return [self.manual(node, REASON) for node, legacy, _ in a.walk.legacy_refs if legacy == CLASS]
