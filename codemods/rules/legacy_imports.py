"""Remove legacy imports, in every form, once nothing in the file uses them; tidy the target import."""

from __future__ import annotations

from typing import Any, Union

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import ScopeProvider

from codemods.config import LEGACY_CLASSES, Config
from codemods.rules._base import CONFIG_KEY
from codemods.rules._legacy_types import TypedRule, dotted, import_module, reexports

IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
TYPE_CHECKING = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}

_Import = Union[cst.Import, cst.ImportFrom]


class LegacyImports(TypedRule):
    NAME = "legacy_imports"
    RELEVANT = LEGACY_CLASSES
    DESCRIPTION = ("Remove legacy imports once unused (module level, function-local, TYPE_CHECKING, "
                   "try/except ImportError, re-exports and __all__); sort the target import.")
    METADATA_DEPENDENCIES = (*TypedRule.METADATA_DEPENDENCIES, ScopeProvider)

    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """("reexport", qualified name, legacy class, source) for each module-level legacy import of a
        non-legacy module (other files may import the name from it)."""
        config = context.scratch.get(CONFIG_KEY) or Config()
        module = context.full_module_name
        if not module or config.is_legacy_module(module):
            return []
        facts = []
        for stmt in tree.body:
            for imp in m.findall(stmt, m.ImportFrom()) if isinstance(stmt, cst.SimpleStatementLine) else ():
                if isinstance(imp.names, cst.ImportStar):
                    continue
                source = import_module(imp, context.full_package_name)
                for alias in imp.names:
                    qualified = f"{source}.{alias.evaluated_name}"
                    legacy = config.legacy_class(qualified)
                    if legacy:
                        facts.append(("reexport", f"{module}.{alias.evaluated_alias or alias.evaluated_name}",
                                      legacy, qualified))
        return facts

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self._removed_names: set[str] = set()  # module-level legacy names removed (for __all__)
        self._emptied: set[int] = set()  # blocks whose every statement was a removed import

    def relevant(self, tree: cst.Module) -> bool:
        """Also a file with the target import (its names get sorted)."""
        return super().relevant(tree) or any(q.startswith(self.config.target + ".") for q in self.imported.values())

    # -- which imports are legacy, and unused ----------------------------------------------------
    def _legacy_alias(self, node: _Import, alias: cst.ImportAlias) -> str | None:
        """The qualified name a legacy alias imports (a legacy module or a re-export), else None."""
        if isinstance(node, cst.Import):
            name = alias.evaluated_name
            return name if self.config.is_legacy_module(name) else None
        module = import_module(node, self.context.full_package_name)
        qualified = f"{module}.{alias.evaluated_name}"
        if self.config.is_legacy_module(module) or self.config.is_legacy_module(qualified):
            return qualified
        return qualified if qualified in reexports(self.index) else None

    def _unused(self, node: _Import, alias: cst.ImportAlias) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return False
        name = alias.evaluated_alias or alias.evaluated_name
        mine = [a for a in scope.assignments[name] if getattr(a, "node", None) is node]
        return bool(mine) and not any(a.references for a in mine)

    def _rebound_by(self, node: _Import, alias: cst.ImportAlias) -> str | None:
        """How the name this alias binds is bound again in the same scope (a class, a function or
        another import), else None. Scope analysis cannot tell which binding a use means, so such
        a legacy import is never removed silently, nor is it left silently."""
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return None
        name = alias.evaluated_alias or alias.evaluated_name
        for other in scope.assignments[name]:
            found = getattr(other, "node", None)
            if found is node:
                continue
            if isinstance(found, (cst.ClassDef, cst.FunctionDef)):
                return f"a {'class' if isinstance(found, cst.ClassDef) else 'function'} of the same name"
            if isinstance(found, (cst.Import, cst.ImportFrom)) and not any(
                    self._legacy_alias(found, a) for a in found.names if isinstance(found.names, (list, tuple))):
                return "another import of the same name"
        return None

    def _prune(self, original: _Import, updated: _Import) -> _Import | cst.RemovalSentinel:
        if isinstance(updated.names, cst.ImportStar):
            return updated
        keep = []
        for old, new in zip(original.names, updated.names):  # type: ignore[arg-type]
            if self._legacy_alias(original, old) and self._unused(original, old):
                if self._is_module_level(original):
                    self._removed_names.add(old.evaluated_alias or old.evaluated_name)
                continue
            rebound = self._legacy_alias(original, old) and self._rebound_by(original, old)
            if rebound:
                name = old.evaluated_alias or old.evaluated_name
                self.manual(original, f"{name} is imported from a legacy module and bound again by {rebound}; "
                                      "decide which one its uses mean (then remove this import)")
            keep.append(new)
        if len(keep) == len(updated.names):  # type: ignore[arg-type]
            return self._redirect(original, updated)
        self.migrated(original, "removed unused legacy import")
        if not keep:
            return cst.RemoveFromParent()
        keep[-1] = keep[-1].with_changes(comma=updated.names[-1].comma)  # type: ignore[index]  # the list's own ending
        return updated.with_changes(names=keep)

    def _redirect(self, original: _Import, updated: _Import) -> _Import:
        """A kept import of a re-exported legacy name imports it from where it is defined (the
        re-export itself is removed from the re-exporting module)."""
        if not isinstance(original, cst.ImportFrom) or isinstance(original.names, cst.ImportStar):
            return updated
        found = reexports(self.index)
        sources = {found[q][1].rpartition(".")[0] if q in found else None
                   for q in (self._legacy_alias(original, a) for a in original.names)}
        if len(sources) != 1 or None in sources:
            return updated
        (source,) = sources
        if any(found[f"{import_module(original, self.context.full_package_name)}.{a.evaluated_name}"][1]
               != f"{source}.{a.evaluated_name}" for a in original.names):
            return updated
        self.migrated(original, f"legacy import now from {source} (the re-export is removed)")
        return updated.with_changes(module=cst.parse_expression(source), relative=())

    def _is_module_level(self, node: cst.CSTNode) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        return scope is not None and scope is scope.globals

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> Any:
        return self._prune(original_node, updated_node)

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> Any:
        result = self._prune(original_node, updated_node)
        if isinstance(result, cst.ImportFrom) and self._is_target(result):
            result = self._sorted(result)
        return result

    # -- statements and blocks left empty --------------------------------------------------------
    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> Any:
        if not updated_node.body:
            return cst.RemoveFromParent()
        return updated_node

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> Any:
        if original_node.body and not updated_node.body:
            self._emptied.add(id(original_node))
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated_node

    def leave_If(self, original_node: cst.If, updated_node: cst.If) -> Any:
        if (id(original_node.body) in self._emptied and dotted(original_node.test) in TYPE_CHECKING
                and original_node.orelse is None):
            self.remove_unused_import("typing", "TYPE_CHECKING")
            return cst.RemoveFromParent()
        return updated_node

    def leave_Try(self, original_node: cst.Try, updated_node: cst.Try) -> Any:
        """`try: from legacy import X` / `except ImportError: X = None`: gone once X is unused."""
        if id(original_node.body) not in self._emptied or original_node.orelse or original_node.finalbody:
            return updated_node
        for handler in original_node.handlers:
            caught = handler.type
            names = [dotted(e.value) for e in caught.elements] if isinstance(caught, cst.Tuple) else [dotted(caught)] \
                if caught is not None else [None]
            if not set(names) <= IMPORT_ERRORS or not all(self._fallback_only(s) for s in handler.body.body):
                return updated_node
        return cst.RemoveFromParent()

    def _fallback_only(self, stmt: cst.BaseStatement) -> bool:
        """`pass`, or `X = <literal>` for a removed, unused name."""
        if not isinstance(stmt, cst.SimpleStatementLine):
            return False
        for small in stmt.body:
            if isinstance(small, cst.Pass):
                continue
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and isinstance(small.value, (cst.Name, cst.SimpleString, cst.Integer))):
                return False
            scope = self.get_metadata(ScopeProvider, small, None)
            if scope is None or scope.accesses[small.targets[0].target.value]:
                return False
        return True

    # -- __all__ entries and commented-out imports -----------------------------------------------
    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        starts_blank = bool(original_node.body) and bool(original_node.body[0].leading_lines) and \
            original_node.body[0].leading_lines[0].comment is None
        if updated_node.body and original_node.body and not starts_blank and not updated_node.header:
            first = updated_node.body[0]  # the first statements went: the file must not start blank
            lines = list(first.leading_lines)
            while lines and lines[0].comment is None:
                lines.pop(0)
            updated_node = updated_node.with_changes(body=[first.with_changes(leading_lines=lines),
                                                           *updated_node.body[1:]])
        if not self._removed_names:
            return updated_node
        return updated_node.visit(_DropAllEntries(self._removed_names))  # type: ignore[return-value]

    # -- the target import: one line, names sorted -----------------------------------------------
    def _is_target(self, node: cst.ImportFrom) -> bool:
        return not node.relative and node.module is not None and dotted(node.module) == self.config.target

    @staticmethod
    def _sorted(node: cst.ImportFrom) -> cst.ImportFrom:
        if isinstance(node.names, cst.ImportStar):
            return node
        names = list(node.names)
        order = sorted(names, key=lambda a: (a.evaluated_name, a.evaluated_alias or ""))
        if [a.evaluated_name for a in order] == [a.evaluated_name for a in names]:
            return node
        commas = [a.comma for a in names]
        return node.with_changes(names=[a.with_changes(comma=c) for a, c in zip(order, commas)])


class _DropAllEntries(cst.CSTTransformer):
    """Drop the given names from a module-level `__all__ = [...]` / `(...)`."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if not (len(updated_node.targets) == 1 and m.matches(updated_node.targets[0].target, m.Name("__all__"))
                and isinstance(updated_node.value, (cst.List, cst.Tuple))):
            return updated_node
        elements = list(updated_node.value.elements)
        keep = [e for e in elements if not (isinstance(e.value, cst.SimpleString)
                                             and e.value.evaluated_value in self.names)]
        if len(keep) == len(elements):
            return updated_node
        if keep and keep[-1] is not elements[-1]:
            keep[-1] = keep[-1].with_changes(comma=elements[-1].comma)
        return updated_node.with_changes(value=updated_node.value.with_changes(elements=keep))

