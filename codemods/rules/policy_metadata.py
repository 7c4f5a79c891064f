"""PolicyMetadata(**kw) -> dict(**kw): the metadata is a plain dict now (a value, not a store record)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import libcst as cst
from libcst.metadata import ParentNodeProvider, ScopeProvider

from codemods.rules._base import LegacyRule
from codemods.rules._quick import legacy_only, mentions

OLD, NEW = "PolicyMetadata", "dict"
DICT_METHODS = frozenset(dir(dict))
MANUAL_REASON = "PolicyMetadata{what}: a dict has no attribute access; decide what replaces it"


class PolicyMetadata(LegacyRule):
    NAME = "policy_metadata"
    DESCRIPTION = ("PolicyMetadata(k=v, **kw) -> dict(k=v, **kw) and PolicyMetadata.from_dict(d) -> dict(d), "
                   "unless the result's attributes are read (a dict has no attribute access) -> manual.")

    def transform_module(self, tree: cst.Module) -> cst.Module:
        return super().transform_module(tree) if mentions(tree, self.config, ("PolicyMetadata",)) else tree

    METADATA_DEPENDENCIES: ClassVar[Sequence[Any]] = (*LegacyRule.METADATA_DEPENDENCIES, ScopeProvider,
                                                      ParentNodeProvider)

    def visit_Call(self, node: cst.Call) -> None:
        attr = self._attribute_read(node) if self._is_metadata_call(node) else None
        if attr:
            self.manual(node, MANUAL_REASON.format(what=f" then .{attr}"))

    def _is_metadata_call(self, node: cst.Call) -> bool:
        func = node.func
        return legacy_only(self, func) == OLD or (isinstance(func, cst.Attribute) and func.attr.value == "from_dict"
                                                  and legacy_only(self, func.value) == OLD)

    def _attribute_read(self, node: cst.Call) -> str | None:
        """An attribute read on the result, directly or through the one name it is assigned to."""
        parent = self.get_metadata(ParentNodeProvider, node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return parent.attr.value
        if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name)):
            return None
        target = parent.targets[0].target
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None:
            return None
        for access in scope.accesses[target.value]:
            used = self.get_metadata(ParentNodeProvider, access.node)
            if isinstance(used, cst.Attribute) and used.value is access.node and used.attr.value not in DICT_METHODS:
                return used.attr.value
        return None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        func = original_node.func
        if self._is_metadata_call(original_node) and self._attribute_read(original_node):
            return updated_node
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
