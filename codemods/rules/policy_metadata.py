"""PolicyMetadata(**kw) -> dict(**kw): the metadata is a plain dict now (a value, not a store record)."""

from __future__ import annotations

from typing import Any

import libcst as cst

from codemods.rules._base import LegacyRule
from codemods.rules._quick import legacy_only, mentions

OLD, NEW = "PolicyMetadata", "dict"
MANUAL_REASON = "PolicyMetadata{what}: a dict has no attribute access; decide what replaces it"


class PolicyMetadata(LegacyRule):
    NAME = "policy_metadata"
    DESCRIPTION = ("PolicyMetadata(k=v, **kw) -> dict(k=v, **kw) and PolicyMetadata.from_dict(d) -> dict(d), "
                   "unless the result's attributes are read (a dict has no attribute access) -> manual.")

    def transform_module(self, tree: cst.Module) -> cst.Module:
        return super().transform_module(tree) if mentions(tree, self.config, ("PolicyMetadata",)) else tree

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        func = original_node.func
        if legacy_only(self, func) == OLD:
            if any(not a.keyword and a.star != "**" for a in original_node.args):
                return updated_node  # positional arguments: leave it (a dict(...) would mean another thing)
            self.migrated(original_node, f"{OLD}(**kw) -> {NEW}(**kw)")
            self.remove_unused_import_by_node(func)
            return updated_node.with_changes(func=cst.Name(NEW))
        if isinstance(func, cst.Attribute) and func.attr.value == "from_dict" and legacy_only(self, func.value) == OLD \
                and len(original_node.args) == 1 and not original_node.args[0].keyword:
            self.migrated(original_node, f"{OLD}.from_dict(d) -> {NEW}(d)")
            return updated_node.with_changes(func=cst.Name(NEW))
        return updated_node
