"""Imports, last: decided from what the applied edits did, never from the rules' wishes.

- an import (one name of it) goes when it was referenced and every reference was in code the edits
  replaced or removed (a name the replacements still contain keeps it);
- the imports the applied edits need are added once: merged into the module's `from <target> import`
  when it has one in its first import block, else as new statements after that block;
- rules may plan more import edits (`legacy_imports`: unused legacy imports, `__all__`, ...) through
  `Bindings`, which knows every import binding, its references, and which of them are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst
from libcst.metadata import GlobalScope

from codemods.edits import Edit, Outcome, present, remove, replace

if TYPE_CHECKING:
    from codemods.analysis import Analysis

_Import = cst.Import | cst.ImportFrom


@dataclass
class Binding:
    """One name an import statement binds."""

    node: _Import
    alias: cst.ImportAlias
    local: str
    qualified: str
    references: list[cst.CSTNode] = field(default_factory=list)
    gone: bool = False  # every reference was in replaced or removed code (and the edits keep none)

    @property
    def unused(self) -> bool:
        """Nothing refers to it after the migration (it may never have been referred to)."""
        return not self.references or self.gone


class Bindings:
    """Every import binding of the module, with what the applied edits did to its references."""

    def __init__(self, analysis: Analysis, done: Outcome) -> None:
        self.a, self.done = analysis, done
        self.items: list[Binding] = []
        self.dropped: dict[int, tuple[Binding, str, str]] = {}
        for node, pairs in analysis.imports:
            if isinstance(node.names, cst.ImportStar):
                continue
            for alias, (local, qualified) in zip(node.names, pairs):
                refs = self._references(node, local)
                binding = Binding(node, alias, local, qualified, refs)
                binding.gone = bool(refs) and all(self.removed(r) for r in refs) and \
                    local.partition(".")[0] not in done.kept_names
                self.items.append(binding)

    def _references(self, node: _Import, local: str) -> list[cst.CSTNode]:
        """The uses of a name an import binds. For a module-level import, also the uses LibCST binds to
        nothing because they come before it (an annotation, a default, a decorator, module code above a
        late `# noqa` import): they need it too (a string annotation under `from __future__ import
        annotations` is still a name a type checker must find)."""
        scope = self.a.scopes.get(node)
        if scope is None:
            return []
        found = [access.node for a in scope.assignments[local] if getattr(a, "node", None) is node
                 for access in a.references]
        if isinstance(scope, GlobalScope):  # (code that runs when the module is imported: module and class bodies)
            found += [access.node for inner in (scope, *self.a.class_scopes) if local in inner.accesses
                      for access in inner.accesses[local] if not access.referents]
        return found

    def removed(self, node: cst.CSTNode) -> bool:
        """The node is in code the applied edits replaced or removed."""
        gone = self.done.gone
        current: cst.CSTNode | None = node
        while current is not None:
            if id(current) in gone:
                return True
            current = self.a.parent(current)
        return False

    def statement(self, node: _Import) -> cst.CSTNode | None:
        return self.a.parent(node)

    def present(self, node: cst.CSTNode) -> bool:
        """The node is still in the tree the content edits made."""
        return present(self.a, self.done, node)

    # -- decisions ---------------------------------------------------------------------------------------
    def drop(self, binding: Binding, rule: str = "", message: str = "") -> None:
        """Remove this name from its import (reported as a site of `rule` when given)."""
        self.dropped[id(binding.alias)] = (binding, rule, message)

    def is_dropped(self, binding: Binding) -> bool:
        return id(binding.alias) in self.dropped

    def edits(self) -> list[Edit]:
        """One edit per import statement that loses names."""
        by_node: dict[int, list[tuple[Binding, str, str]]] = {}
        for binding, rule, message in self.dropped.values():
            by_node.setdefault(id(binding.node), []).append((binding, rule, message))
        out = []
        for items in by_node.values():
            node = items[0][0].node
            reported = [(rule, message) for _, rule, message in items if rule]
            rule, message = reported[0] if reported else ("imports", "")
            edit = drop_aliases(self.a, node, {id(b.alias) for b, _, _ in items}, rule, message, bool(reported))
            if edit is not None:
                out.append(edit)
        return out


def drop_aliases(analysis: Analysis, node: _Import, drop: set[int], rule: str, message: str,
                 report: bool) -> Edit | None:
    """The edit that removes the aliases (ids in `drop`) from an import: the whole line when nothing is
    left of it, the import statement when its line holds others, else just those names."""
    names = list(node.names) if not isinstance(node.names, cst.ImportStar) else []
    if not any(id(a) in drop for a in names):
        return None
    keep = [a for a in names if id(a) not in drop]
    if keep:
        def build(updated: Any) -> Any:
            kept = [new for new, old in zip(updated.names, names) if id(old) not in drop]
            kept[-1] = kept[-1].with_changes(comma=updated.names[-1].comma)  # the list's own ending
            return updated.with_changes(names=kept)
        return replace(node, rule, message, build, report=report)
    line = analysis.parent(node)
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
        return remove(line, rule, message, report=report)
    return replace(node, rule, message, lambda updated: cst.RemoveFromParent(), report=report)


def insertion_point(module: cst.Module) -> int:
    """The index of the module statement new imports go after (-1: the top): the end of the first block
    of import statements, after a docstring."""
    start = 1 if module.body and _is_docstring(module.body[0]) else 0
    last = start - 1
    for i, stmt in enumerate(module.body[start:], start):
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and \
                isinstance(stmt.body[0], (cst.Import, cst.ImportFrom)):
            last = i
        else:
            break
    return last


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and \
        isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


def missing(analysis: Analysis, needed: Iterable[tuple[str, str | None]], bindings: Bindings,
            dropped: set[int]) -> list[tuple[str, str | None]]:
    """The needed imports the module does not have at module level (and keeps)."""
    have = set()
    for b in bindings.items:
        if id(b.alias) in dropped or analysis.parent(analysis.parent(b.node) or b.node) is not analysis.tree:
            continue
        if isinstance(b.node, cst.Import):
            if b.local == b.qualified:
                have.add((b.qualified, None))
        elif b.local == b.qualified.rpartition(".")[2]:
            have.add((b.qualified.rpartition(".")[0], b.local))
    return sorted(set(needed) - have, key=lambda item: (item[0], item[1] or ""))


def additions(analysis: Analysis, wanted: Sequence[tuple[str, str | None]],
              rule: str) -> tuple[list[Edit], list[cst.SimpleStatementLine], int]:
    """Edits merging `from M import x` into an existing `from M import ...` of the first import block,
    the new statements for the rest, and where they go (see `insertion_point`)."""
    module = analysis.tree
    after = insertion_point(module)
    existing: dict[str, cst.ImportFrom] = {}
    for stmt in module.body[:after + 1]:
        if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.ImportFrom):
            imp = stmt.body[0]
            if not imp.relative and imp.module is not None and not isinstance(imp.names, cst.ImportStar):
                existing.setdefault(cst.Module([]).code_for_node(imp.module), imp)
    edits: list[Edit] = []
    by_module: dict[str, list[str]] = {}
    plain: list[str] = []
    for module_name, name in wanted:
        if name is None:
            plain.append(module_name)
        else:
            by_module.setdefault(module_name, []).append(name)
    for module_name, names in list(by_module.items()):
        imp = existing.get(module_name)
        if imp is None:
            continue
        del by_module[module_name]

        def build(updated: Any, add: list[str] = sorted(names)) -> Any:
            current = list(updated.names)
            aliases = sorted([*current, *(cst.ImportAlias(cst.Name(n)) for n in add)],
                             key=lambda a: (a.evaluated_name, a.evaluated_alias or ""))
            separators = [a.comma for a in current[:-1]]
            between = separators[0] if separators else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            separators += [between] * (len(aliases) - 1 - len(separators))
            out = [alias.with_changes(comma=separators[i]) for i, alias in enumerate(aliases[:-1])]
            return updated.with_changes(names=[*out, aliases[-1].with_changes(comma=current[-1].comma)])
        edits.append(replace(imp, rule, "", build, report=False))
    statements = [cst.parse_statement(f"import {m}") for m in sorted(set(plain))]
    statements += [cst.parse_statement(f"from {m} import {', '.join(sorted(set(n)))}") for m, n in by_module.items()]
    return edits, statements, after  # type: ignore[return-value]
