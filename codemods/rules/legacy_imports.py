"""Remove legacy imports, in every form, once nothing in the file uses them; tidy the target import."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis, import_module
from codemods.analysis.shapes import dotted
from codemods.edits import Edit
from codemods.imports import Binding, Bindings
from codemods.rules._rule import Rule

IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
TYPE_CHECKING = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
REMOVED = "removed unused legacy import"


class LegacyImports(Rule):
    NAME = "legacy_imports"
    DESCRIPTION = ("Remove legacy imports once unused (module level, function-local, TYPE_CHECKING, "
                   "try/except ImportError, re-exports and __all__); sort the target import.")

    @classmethod
    def facts(cls, a: Analysis) -> dict[str, list[Any]]:
        """("reexports": (qualified name, legacy class, source)) for each module-level legacy import of a
        non-legacy module: other files may import the name from it."""
        return {"reexports": list(a.reexports)} if a.reexports else {}

    # -- which imports are legacy -------------------------------------------------------------------------
    @staticmethod
    def legacy_alias(a: Analysis, b: Binding) -> str | None:
        """The qualified name a legacy alias imports (a legacy module or a re-export), else None."""
        names = a.names
        if isinstance(b.node, cst.Import):
            return b.qualified if names.is_legacy_module(b.qualified) else None
        module = b.qualified.rpartition(".")[0]
        if names.is_legacy_module(module) or names.is_legacy_module(b.qualified):
            return b.qualified
        return b.qualified if b.qualified in names.reexports else None

    def plan_imports(self, a: Analysis, bindings: Bindings) -> Iterable[Edit]:
        edits: list[Edit] = []
        removed_names: set[str] = set()
        for b in bindings.items:
            if not self.legacy_alias(a, b):
                continue
            if b.unused:
                if not bindings.present(b.node):
                    continue  # inside code that is gone anyway
                bindings.drop(b, self.NAME, REMOVED)
                if a.parent(a.parent(b.node) or b.node) is a.tree:
                    removed_names.add(b.local)
                continue
            rebound = self._rebound_by(a, b)
            if rebound:
                edits.append(self.manual(b.node, f"{b.local} is imported from a legacy module and bound again by "
                                                 f"{rebound}; decide which one its uses mean (then remove this import)"))
        edits += self._blocks(a, bindings)
        edits += self._redirects(a, bindings)
        edits += self._all_entries(a, removed_names)
        edits += self._sorted_targets(a, bindings)
        return edits

    def _rebound_by(self, a: Analysis, b: Binding) -> str | None:
        """How the name this alias binds is bound again in the same scope (a class, a function or another
        import), else None. Scope analysis cannot tell which binding a use means, so such a legacy import
        is never removed silently, nor is it left silently."""
        scope = a.scopes.get(b.node)
        if scope is None:
            return None
        for other in scope.assignments[b.local]:
            found = getattr(other, "node", None)
            if found is b.node:
                continue
            if isinstance(found, (cst.ClassDef, cst.FunctionDef)):
                return f"a {'class' if isinstance(found, cst.ClassDef) else 'function'} of the same name"
            if isinstance(found, (cst.Import, cst.ImportFrom)):
                others = [o for o in a_bindings(a, found)]
                if not any(self.legacy_alias(a, o) for o in others):
                    return "another import of the same name"
        return None

    # -- TYPE_CHECKING and try/except ImportError blocks left empty -------------------------------------------
    def _blocks(self, a: Analysis, bindings: Bindings) -> list[Edit]:
        edits = []
        dropped_nodes = {id(b.node) for b in bindings.items if bindings.is_dropped(b)}
        whole = {node_id for node_id in dropped_nodes
                 if all(bindings.is_dropped(b) for b in bindings.items if id(b.node) == node_id)}
        for node, _ in a.imports:
            line = a.parent(node)
            block = a.parent(line) if line is not None else None
            owner = a.parent(block) if block is not None else None
            if not isinstance(block, cst.IndentedBlock) or owner is None:
                continue
            emptied = all(isinstance(s, cst.SimpleStatementLine) and all(id(x) in whole for x in s.body)
                          for s in block.body)
            if not emptied or any(e.node is owner for e in edits):
                continue
            if isinstance(owner, cst.If) and owner.body is block and dotted(owner.test) in TYPE_CHECKING \
                    and owner.orelse is None:
                edits.append(self.remove(owner, REMOVED, report=False))
                for b in bindings.items:  # TYPE_CHECKING itself, once no other use is left
                    if b.local == "TYPE_CHECKING" and b.references and \
                            all(bindings.removed(r) or _within(a, r, owner) for r in b.references):
                        bindings.drop(b)
            elif isinstance(owner, cst.Try) and owner.body is block and not owner.orelse and not owner.finalbody \
                    and all(self._fallback_only(a, h) for h in owner.handlers):
                edits.append(self.remove(owner, REMOVED, report=False))
        return edits

    @staticmethod
    def _fallback_only(a: Analysis, handler: cst.ExceptHandler) -> bool:
        """`except ImportError:` whose body is `pass`, or `X = <literal>` for names nothing reads."""
        caught = handler.type
        names = [dotted(e.value) for e in caught.elements] if isinstance(caught, cst.Tuple) else \
            [dotted(caught)] if caught is not None else [None]
        if not set(names) <= IMPORT_ERRORS:
            return False
        for stmt in handler.body.body if isinstance(handler.body, cst.IndentedBlock) else ():
            if not isinstance(stmt, cst.SimpleStatementLine):
                return False
            for small in stmt.body:
                if isinstance(small, cst.Pass):
                    continue
                if not (isinstance(small, cst.Assign) and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name)
                        and isinstance(small.value, (cst.Name, cst.SimpleString, cst.Integer))):
                    return False
                scope = a.scopes.get(small)
                if scope is None or scope.accesses[small.targets[0].target.value]:
                    return False
        return True

    # -- re-exports, __all__, the target import ----------------------------------------------------------------
    def _redirects(self, a: Analysis, bindings: Bindings) -> list[Edit]:
        """A kept import of a re-exported legacy name imports it from where it is defined (the re-export
        itself is removed from the re-exporting module)."""
        sources = {q: source for q, _, source in a.index.get("reexports", ())}
        edits = []
        for node, _ in a.imports:
            if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
                continue
            mine = [b for b in bindings.items if b.node is node]
            if not mine or any(bindings.is_dropped(b) for b in mine):
                continue
            origins = {sources.get(b.qualified, "").rpartition(".")[0] if b.qualified in sources else None for b in mine}
            if len(origins) != 1 or None in origins:
                continue
            (origin,) = origins
            if any(sources[b.qualified] != f"{origin}.{b.alias.evaluated_name}" for b in mine):
                continue
            edits.append(self.replace(node, f"legacy import now from {origin} (the re-export is removed)",
                                      lambda updated, o=origin: updated.with_changes(module=cst.parse_expression(o),
                                                                                     relative=())))
        return edits

    def _all_entries(self, a: Analysis, names: set[str]) -> list[Edit]:
        if not names:
            return []
        edits = []
        for assign in a.walk.all_lists:
            value = assign.value
            if isinstance(value, (cst.List, cst.Tuple)) and any(
                    isinstance(e.value, cst.SimpleString) and e.value.evaluated_value in names for e in value.elements):
                edits.append(self.replace(assign, "", lambda updated: _without_entries(updated, names), report=False))
        return edits

    def _sorted_targets(self, a: Analysis, bindings: Bindings) -> list[Edit]:
        edits = []
        for node, _ in a.imports:
            if isinstance(node, cst.ImportFrom) and not node.relative and node.module is not None and \
                    dotted(node.module) == a.config.target and not isinstance(node.names, cst.ImportStar):
                names = [x.evaluated_name for x in node.names]
                if names != sorted(names):
                    edits.append(self.replace(node, "", _sorted, report=False))
        return edits


def a_bindings(a: Analysis, node: Any) -> list[Binding]:
    pairs = next((found for n, found in a.imports if n is node), [])
    names = list(node.names) if not isinstance(node.names, cst.ImportStar) else []
    return [Binding(node, alias, local, qualified) for alias, (local, qualified) in zip(names, pairs)]


def _within(a: Analysis, node: cst.CSTNode, owner: cst.CSTNode) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current is owner:
            return True
        current = a.parent(current)
    return False


def _without_entries(assign: Any, names: set[str]) -> Any:
    elements = list(assign.value.elements)
    keep = [e for e in elements if not (isinstance(e.value, cst.SimpleString) and e.value.evaluated_value in names)]
    if keep and keep[-1] is not elements[-1]:
        keep[-1] = keep[-1].with_changes(comma=elements[-1].comma)
    return assign.with_changes(value=assign.value.with_changes(elements=keep))


def _sorted(node: Any) -> Any:
    names = list(node.names)
    order = sorted(names, key=lambda x: (x.evaluated_name, x.evaluated_alias or ""))
    commas = [x.comma for x in names]
    return node.with_changes(names=[x.with_changes(comma=c) for x, c in zip(order, commas)])


__all__ = ["LegacyImports", "import_module"]
