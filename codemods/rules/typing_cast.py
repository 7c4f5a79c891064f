"""cast(PolicyRecord, x) -> x (a no-op at run time); isinstance(x, PolicyRecord) -> manual."""

from __future__ import annotations

from typing import Any

import libcst as cst
from libcst.metadata import QualifiedNameProvider, QualifiedNameSource

from codemods.rules._base import LegacyRule
from codemods.rules._quick import legacy_only, mentions
from codemods.rules._uses import ISINSTANCE_REASON

CASTS = frozenset({"typing.cast", "typing_extensions.cast"})
RECORDS = frozenset({"PolicyRecord", "PolicyWrapper", "MockPolicyRecord"})
# expressions that can stand where a call stood without parentheses
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.SimpleString, cst.List, cst.Dict, cst.Tuple)


class TypingCast(LegacyRule):
    NAME = "typing_cast"
    DESCRIPTION = "typing.cast(PolicyRecord, x) -> x; isinstance(x, PolicyRecord) -> manual (a path is a str now)."

    def transform_module(self, tree: cst.Module) -> cst.Module:
        return super().transform_module(tree) if mentions(tree, self.config, RECORDS) else tree

    def _cast_of_record(self, node: cst.Call) -> bool:
        return len(node.args) == 2 and not any(a.keyword or a.star for a in node.args) and \
            bool(self.qualified_names(node.func) & CASTS) and legacy_only(self, node.args[0].value) in RECORDS

    def visit_Call(self, node: cst.Call) -> None:
        if self._builtin(node.func, "isinstance") and len(node.args) == 2:
            legacy = legacy_only(self, node.args[1].value) or next(
                (legacy_only(self, e.value) for e in getattr(node.args[1].value, "elements", ())
                 if legacy_only(self, e.value)), None)
            if legacy in RECORDS:
                self.manual(node, ISINSTANCE_REASON.format(cls=legacy))

    def _builtin(self, node: cst.CSTNode, name: str) -> bool:
        found = self.get_metadata(QualifiedNameProvider, node, set())
        return any(q.name in (name, f"builtins.{name}") and q.source is QualifiedNameSource.BUILTIN for q in found)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        if not self._cast_of_record(original_node):
            return updated_node
        value = updated_node.args[1].value
        self.migrated(original_node, f"cast({legacy_only(self, original_node.args[0].value)}, x) -> x")
        self.remove_unused_import("typing", "cast")
        if not isinstance(value, _ATOMS) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return value.with_changes(lpar=[*updated_node.lpar, *value.lpar], rpar=[*value.rpar, *updated_node.rpar])
