"""Commented-out legacy import lines (`# from metta.agent.policy_store import PolicyStore`) are deleted."""  # noqa: TCK004 (documents the legacy paths it matches)

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.edits import Edit
from codemods.legacy import resolve_relative
from codemods.rules._rule import Rule

# `# from metta.sim.simple_policy_store import SimplePolicyStore`, `#import metta.agent.policy_store as ps`
COMMENTED_IMPORT = re.compile(r"#\s*(?:from\s+(?P<from>\.*[\w.]*)\s+import\s+[\w\s,.()*]+|"
                              r"import\s+(?P<mod>[\w.]+)(?:\s+as\s+\w+)?)\s*(?:#.*)?")
# the fields of a node that hold comment lines
_FIELDS = {cst.Module: ("header", "footer"), cst.IndentedBlock: ("footer",)}
_LINES = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_DECORATED = (cst.FunctionDef, cst.ClassDef)
MESSAGE = "removed commented-out legacy import"


class CommentedImports(Rule):
    NAME = "commented_imports"
    DESCRIPTION = "Delete commented-out import lines of legacy modules (one blank line kept where two would meet)."

    def plan(self, a: Analysis) -> Iterable[Edit]:
        if not any(self._is_legacy(a, line.strip()) for line in a.source.splitlines() if line.lstrip().startswith("#")):
            return  # cheap text test first: most files have none
        for node in (a.tree, *a.walk.parents):
            fields = _FIELDS.get(type(node), ())
            if isinstance(node, _LINES):
                fields = ("leading_lines", "lines_after_decorators") if isinstance(node, _DECORATED) else ("leading_lines",)
            hits = [f for f in fields if any(self._is_legacy(a, line.comment.value.strip())
                                             for line in getattr(node, f) if line.comment)]
            if hits:
                count = sum(1 for f in hits for line in getattr(node, f)
                            if line.comment and self._is_legacy(a, line.comment.value.strip()))
                yield self.replace(node, MESSAGE, lambda updated, fs=tuple(hits): self._drop_all(a, updated, fs),
                                   more=[(node, MESSAGE)] * (count - 1))

    def _drop_all(self, a: Analysis, node: Any, fields: Sequence[str]) -> Any:
        return node.with_changes(**{f: self._drop(a, getattr(node, f)) for f in fields})

    @staticmethod
    def _is_legacy(a: Analysis, comment: str) -> bool:
        match = COMMENTED_IMPORT.fullmatch(comment)
        if match is None:
            return False
        module = match.group("from") or match.group("mod") or ""
        return a.names.is_legacy_module(resolve_relative(module, a.package))

    def _drop(self, a: Analysis, lines: Sequence[cst.EmptyLine]) -> Sequence[cst.EmptyLine]:
        """The lines without the commented-out legacy imports; the blank lines that met around them are as
        many as the longer of the two runs was (two blank lines, a dropped comment, two: two blank lines)."""
        kept: list[cst.EmptyLine] = []
        before: int | None = None  # the blank lines right before the dropped lines, while in the run after them
        after = 0
        for line in lines:
            if line.comment and self._is_legacy(a, line.comment.value.strip()):
                if before is None:
                    before = sum(1 for _ in _trailing_blanks(kept))
                after = 0
                continue
            if before is not None and line.comment is None:
                after += 1
                if after > before:
                    kept.append(line)
                continue
            before = None
            kept.append(line)
        return kept


def _trailing_blanks(lines: Sequence[cst.EmptyLine]) -> Iterable[cst.EmptyLine]:
    for line in reversed(lines):
        if line.comment:
            return
        yield line
