"""Commented-out legacy import lines (`# from metta.agent.policy_store import PolicyStore`) are deleted."""  # noqa: TCK004 (documents the legacy paths it matches)

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import libcst as cst

from codemods.rules._base import resolve_relative
from codemods.rules._legacy_types import TypedRule

# `# from metta.sim.simple_policy_store import SimplePolicyStore`, `#import metta.agent.policy_store as ps`
COMMENTED_IMPORT = re.compile(r"#\s*(?:from\s+(?P<from>\.*[\w.]*)\s+import\s+[\w\s,.()*]+|"
                              r"import\s+(?P<mod>[\w.]+)(?:\s+as\s+\w+)?)\s*(?:#.*)?")


class CommentedImports(TypedRule):
    NAME = "commented_imports"
    DESCRIPTION = "Delete commented-out import lines of legacy modules (one blank line kept where two would meet)."

    def transform_module(self, tree: cst.Module) -> cst.Module:
        if not any(self._is_legacy(line.strip()) for line in tree.code.splitlines() if line.lstrip().startswith("#")):
            return tree  # cheap text test first: most files have none
        return super().transform_module(tree)

    def _is_legacy(self, comment: str) -> bool:
        match = COMMENTED_IMPORT.fullmatch(comment)
        if match is None:
            return False
        module = match.group("from") or match.group("mod") or ""
        return self.config.is_legacy_module(resolve_relative(module, self.context.full_package_name))

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        result = super().on_leave(original_node, updated_node)
        if isinstance(result, cst.Module):
            return result.with_changes(header=self._drop(original_node, result.header),
                                       footer=self._drop(original_node, result.footer))
        if isinstance(result, cst.IndentedBlock):
            result = result.with_changes(footer=self._drop(original_node, result.footer))
        if isinstance(result, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            result = result.with_changes(leading_lines=self._drop(original_node, result.leading_lines))
        if isinstance(result, (cst.FunctionDef, cst.ClassDef)):
            result = result.with_changes(lines_after_decorators=self._drop(original_node, result.lines_after_decorators))
        return result

    def _drop(self, original: cst.CSTNode, lines: Sequence[cst.EmptyLine]) -> Sequence[cst.EmptyLine]:
        """The lines without the commented-out legacy imports (and without a blank line the drop would double)."""
        if not any(line.comment and self._is_legacy(line.comment.value.strip()) for line in lines):
            return lines
        kept: list[cst.EmptyLine] = []
        doubled = False  # a blank line sat right before the dropped lines
        for line in lines:
            if line.comment and self._is_legacy(line.comment.value.strip()):
                self.migrated(original, "removed commented-out legacy import")
                doubled = doubled or bool(kept) and kept[-1].comment is None
                continue
            if doubled and line.comment is None:
                doubled = False
                continue  # keep one of the two blank lines around the dropped lines
            doubled = False
            kept.append(line)
        return kept
