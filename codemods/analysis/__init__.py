"""One analysis per file, built once from its original text and shared by every rule.

`Analysis` parses the module once and resolves one piece of LibCST metadata (scopes); everything
else comes from one walk (`values.Builder`): parents, the value graph, and the node lists the rules
plan on. Positions are computed lazily, only for the top-level statements that hold a reported site
(LibCST's PositionProvider over a whole module costs as much as parsing it).

Cross-file facts (`facts()`) are what the file contributes to the index: its value graph, the legacy
names it re-exports, and whatever rules add. `Analysis(..., index=merged)` then sees the whole tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    GlobalScope,
    ImportAssignment,
    MetadataWrapper,
    PositionProvider,
    QualifiedNameSource,
    ScopeProvider,
)

from codemods.analysis.graph import Graph
from codemods.analysis.shapes import dotted
from codemods.analysis.solution import Solution, isolated, solve
from codemods.analysis.values import Builder
from codemods.config import Config
from codemods.legacy import LegacyNames, is_test_file, reexports_of, resolve_relative

Index = Mapping[str, Sequence[Any]]  # section -> facts of every file (see `merge_facts`)

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_NO_IMPORTS_INSIDE = (cst.BaseExpression, cst.Annotation, cst.Parameters, cst.Decorator)


class _Imports(cst.CSTVisitor):
    """Every import statement of a module (any scope), without walking into expressions."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.Import | cst.ImportFrom] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            self.found.append(node)
            return False
        return not isinstance(node, _NO_IMPORTS_INSIDE)


class _Classes(cst.CSTVisitor):
    """Every class definition (statements only: no walk into expressions)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.ClassDef] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.ClassDef):
            self.found.append(node)
        return not isinstance(node, _NO_IMPORTS_INSIDE)


class Analysis:
    """Everything the rules need to know about one file (see the module docstring)."""

    def __init__(self, source: str, path: str = "<string>", *, config: Config | None = None,
                 module: str | None = None, package: str | None = None, index: Index | None = None,
                 tree: cst.Module | None = None) -> None:
        self.source = source
        self.original = source  # the file's text (`source` may hold stand-ins for constant literals: literals.py)
        self.stand_ins: dict[str, str] = {}
        self.path = path
        self.config = config or Config()
        self.module = module
        self.package = package
        self.standalone = index is None or "graphs" not in index  # run alone: nothing is known about other files
        self.index: Index = index or {}
        self.tree = tree if tree is not None else cst.parse_module(source)
        self.names = LegacyNames(self.config, {q: c for q, c, *_ in self.index.get("reexports", ())})
        self._qualified: dict[int, frozenset[str]] = {}
        self._local: dict[int, bool] = {}
        self._plain_names: dict[tuple[int, str], bool] = {}
        self._qualified_by_name: dict[tuple[int, str], tuple[frozenset[str], bool]] = {}
        self._solved: Solution | None = None

    def see(self, index: Index, solved: Solution | None = None) -> None:
        """Take the whole tree's index after the facts were gathered, keeping the parse, the scopes and
        the walk (they depend on the tree's re-exports only, which the facts phase knew already).
        `solved`: the index's graphs, solved once for every file of the tree (this one's among them)."""
        reexports = {q: c for q, c, *_ in index.get("reexports", ())}
        if reexports != self.names.reexports:  # (the runner gives both phases the same re-exports)
            self.names = LegacyNames(self.config, reexports)
            for stale in ("walk", "graph", "legacy_locals"):
                self.__dict__.pop(stale, None)
        self.index, self.standalone, self._solved = index, "graphs" not in index, solved
        self.__dict__.pop("solution", None)

    # -- metadata (one provider, resolved once) -------------------------------------------------------------
    @cached_property
    def wrapper(self) -> MetadataWrapper:
        return MetadataWrapper(self.tree, unsafe_skip_copy=True)  # never mutated: no defensive deep copy

    @cached_property
    def scopes(self) -> Mapping[cst.CSTNode, Any]:
        return self.wrapper.resolve(ScopeProvider)

    @cached_property
    def contexts(self) -> Mapping[cst.CSTNode, Any]:
        return self.wrapper.resolve(ExpressionContextProvider)  # (resolved with the scopes already)

    @property
    def is_test(self) -> bool:
        return is_test_file(self.path)

    # -- names ------------------------------------------------------------------------------------------------
    def qualified(self, node: cst.CSTNode) -> frozenset[str]:
        """Qualified names of a name or attribute: imports resolved (relative ones too), the module's
        own definitions as `<module>.<name>`, builtins as `builtins.<name>`."""
        found = self._qualified.get(id(node))
        if found is None:
            scope = self.scopes.get(node)
            same = self._by_name_key(scope, node)
            if same is not None and same in self._qualified_by_name:
                found, local = self._qualified_by_name[same]
                self._qualified[id(node)], self._local[id(node)] = found, local
                return found
            names, local = set(), False
            module = self.module or "__main__"
            found_names = scope.get_qualified_names_for(node) if scope is not None else ()
            if not found_names and scope is not None and isinstance(node, (cst.Name, cst.Attribute)):
                found_names = self._late(scope, node)
            for q in found_names:
                if q.source is QualifiedNameSource.IMPORT:
                    names.add(resolve_relative(q.name, self.package))
                elif q.source is QualifiedNameSource.LOCAL:
                    local = True
                    if "<locals>" not in q.name:
                        names.add(f"{module}.{q.name}")
                elif q.source is QualifiedNameSource.BUILTIN:
                    names.add(q.name if q.name.startswith("builtins.") else f"builtins.{q.name}")
            found = self._qualified[id(node)] = frozenset(names)
            self._local[id(node)] = local
            if same is not None:
                self._qualified_by_name[same] = (found, local)
        return found

    @staticmethod
    def _late(scope: Any, node: cst.CSTNode) -> Any:
        """A use LibCST binds to nothing because the module binds the name only further down (an annotation
        above a late import): what the module binds it to, as the name will mean when the code runs."""
        while scope.parent is not scope and not isinstance(scope, GlobalScope):
            scope = scope.parent
        full = get_full_name_for_node(node)
        return scope.get_qualified_names_for(full) if full and isinstance(scope, GlobalScope) else ()

    def _by_name_key(self, scope: Any, node: cst.CSTNode) -> tuple[int, str] | None:
        """(scope, dotted name) when every use of this name in this scope means the same (so LibCST's
        answer, which looks at the bindings before each use, is the same for all): a plain name (or a
        read of an attribute of one) bound, if at all, in one scope and never by an import. A module
        that binds `fh` in hundreds of `with` blocks would otherwise cost uses x bindings."""
        head: cst.CSTNode = node
        while isinstance(head, cst.Attribute):
            head = head.value
        if scope is None or not isinstance(head, cst.Name) or \
                (node is not head and self.contexts.get(node) is not ExpressionContext.LOAD):
            return None
        name = (id(scope), head.value)
        if name not in self._plain_names:
            bindings = scope[head.value]
            self._plain_names[name] = not any(isinstance(b, ImportAssignment) for b in bindings) and \
                len({id(getattr(b, "scope", None)) for b in bindings}) <= 1
        if not self._plain_names[name]:
            return None
        return (id(scope), head.value if node is head else (get_full_name_for_node(node) or ""))

    def legacy(self, node: cst.CSTNode) -> str | None:
        """The legacy class a name or attribute refers to, by where it was imported from. None when it
        may also mean something that is not legacy: a local definition rebinds it, or the module imports
        the name from a legacy module and from another (which one a use means is for a person to decide)."""
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return None
        head = node
        while isinstance(head, cst.Attribute):
            head = head.value
        if not isinstance(head, cst.Name) or head.value not in self.legacy_locals:
            return None  # only an import of something legacy can bind a legacy name (the cheap test first)
        names = self.qualified(node)
        if self._local.get(id(node)):
            return None
        imported = [q for q in names if not q.startswith("builtins.")]
        classes = [self.names.legacy_class(q) for q in sorted(imported)]
        return None if not classes or None in classes else classes[0]

    @cached_property
    def imports(self) -> list[tuple[cst.Import | cst.ImportFrom, list[tuple[str, str]]]]:
        """Every import statement (any scope) with its (local name, qualified name) pairs, in order."""
        visitor = _Imports()
        self.tree.visit(visitor)
        found = []
        for node in visitor.found:
            pairs: list[tuple[str, str]] = []
            if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
                base = import_module(node, self.package)
                pairs = [(a.evaluated_alias or a.evaluated_name, f"{base}.{a.evaluated_name}") for a in node.names]
            elif isinstance(node, cst.Import):  # `import a.b.c` is named `a.b.c` in its scope (and binds `a`)
                pairs = [(a.evaluated_alias or a.evaluated_name, a.evaluated_name) for a in node.names]
            found.append((node, pairs))
        return found

    @cached_property
    def class_scopes(self) -> list[Any]:
        """The scope of every class body (code that runs at import time, like the module's own)."""
        visitor = _Classes()
        self.tree.visit(visitor)
        found = (self.scopes.get(c.body.body[0]) for c in visitor.found if c.body.body)
        return [s for s in found if s is not None]

    @cached_property
    def reexports(self) -> tuple[tuple[str, str, str], ...]:
        """(qualified name, legacy class, source) for each module-level `from x import LegacyName` of a
        non-legacy module: other files may import the name from this one."""
        if not self.module:
            return ()
        top = {id(small) for line in self.tree.body if isinstance(line, cst.SimpleStatementLine) for small in line.body}
        pairs = [(local, qualified) for node, found in self.imports if id(node) in top
                 and isinstance(node, cst.ImportFrom) for local, qualified in found]
        found = reexports_of(self.module, pairs, self.config)
        sources = dict((f"{self.module}.{local}", qualified) for local, qualified in pairs)
        return tuple((q, c, sources[q]) for q, c in sorted(found.items()))

    @cached_property
    def legacy_locals(self) -> frozenset[str]:
        """Local names that an import of something legacy binds (only these can name a legacy class)."""
        out = set()
        for node, pairs in self.imports:
            for local, qualified in pairs:
                if self.names.is_legacy_import(qualified) or qualified.rpartition(".")[0] in self.names.modules or \
                        any(q.startswith(qualified + ".") for q in self.names.names):
                    out.add(local.partition(".")[0])
        return frozenset(out)

    # -- the walk ----------------------------------------------------------------------------------------------
    @cached_property
    def walk(self) -> Builder:
        """The one walk: parents, the value graph, and the node lists the rules plan on."""
        builder = Builder(self)
        self.tree.visit(builder)
        return builder

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.walk.parents.get(node)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The statement a manual marker for `node` goes above (an `elif` counts as its `if`)."""
        current: cst.CSTNode | None = node
        while current is not None:
            if isinstance(current, _STATEMENTS):
                parent = self.parent(current)
                if isinstance(current, cst.If) and isinstance(parent, cst.If) and parent.orelse is current:
                    current = parent
                    continue
                return current
            current = self.parent(current)
        return None

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        current = self.parent(node)
        while current is not None and not isinstance(current, cst.FunctionDef):
            current = self.parent(current)
        return current

    def top_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The module-level statement that holds `node` (None for the module itself)."""
        current, parent = node, self.parent(node)
        while parent is not None and not isinstance(parent, cst.Module):
            current, parent = parent, self.parent(parent)
        return current if parent is not None else None

    # -- positions (lazy) ----------------------------------------------------------------------------------------
    @cached_property
    def top_lines(self) -> dict[int, int]:
        """id(module-level statement) -> the line its text (leading comments included) starts on."""
        starts: dict[int, int] = {}
        line = 1 + len(self.tree.header)
        for stmt in self.tree.body:
            starts[id(stmt)] = line
            line += self.tree.code_for_node(stmt).count("\n")
        return starts

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        """(line, 1-based column) of a node of the original tree; (0, 0) for a node it does not hold."""
        top = self.top_of(node)
        if top is None:
            return (0, 0)
        positions = self._positions_in(top)
        pos = positions.get(node)
        if pos is None:
            return (0, 0)
        return pos.start.line + self.top_lines[id(top)] - 1, pos.start.column + 1

    def _positions_in(self, top: cst.CSTNode) -> Mapping[cst.CSTNode, Any]:
        cache = self.__dict__.setdefault("_position_cache", {})
        found = cache.get(id(top))
        if found is None:
            alone = self.tree.with_changes(header=[], body=[top], footer=[])
            found = cache[id(top)] = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        return found

    # -- the whole tree ---------------------------------------------------------------------------------------
    @cached_property
    def graph(self) -> Graph:
        return self.walk.graph

    @cached_property
    def solution(self) -> Solution:
        """The value graph of every file of the tree (this one from its own walk), solved."""
        own = self.graph
        if self.standalone:
            return Solution([isolated(own)], alone=True)
        if self._solved is not None and own.module in self._solved.modules:
            return self._solved  # the same graphs, this file's included (its walk is deterministic)
        return solve(own, (g for g in self.index.get("graphs", ()) if isinstance(g, Graph)), self.index.get("frozen", ()))

    def node_of(self, site: str) -> cst.CSTNode | None:
        """The node of a site key of THIS file (sites of other files have no node here)."""
        return self.walk.nodes.get(site) if site else None


def import_module(node: cst.ImportFrom, package: str | None) -> str:
    """The absolute module a `from ... import` imports from."""
    name = dotted(node.module) if node.module is not None else ""
    if node.relative:
        return resolve_relative("." * len(node.relative) + (name or ""), package)
    return name or ""


__all__ = ["Analysis", "Index", "import_module"]
