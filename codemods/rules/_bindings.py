"""Which names hold a legacy object: a small per-scope binding analysis shared by the half-state rules.

A `Binder` subclass says which parameters and assigned values give a name the kind of object it tracks;
a name is tracked in its scope (module, function, comprehension) only when EVERY binding of it there is
one it accepts, and `self.attr` is tracked in a class when every `self.attr = ...` in its methods is.
`ScopedRule.holds(bindings, expr)` answers for a name or `self.attr` where the transformer stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import libcst as cst
import libcst.matchers as m

from codemods.rules._base import Kind, NoFieldVisits
from codemods.rules._legacy_types import TypedRule, params

_Scope = Union[cst.Module, cst.FunctionDef, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp]
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)  # each is its own scope
_SCOPE = Kind(cst.Module, cst.FunctionDef, cst.ClassDef, *COMPREHENSIONS)
_NESTED_SCOPE = Kind(cst.FunctionDef, cst.ClassDef, cst.Lambda, *COMPREHENSIONS)
_DEFINITION = Kind(cst.FunctionDef, cst.ClassDef)
_TYPING = Kind(cst.Annotation, cst.Import, cst.ImportFrom)
# the nodes `_bindings` may bind a name with (every other node binds none)
_BINDER = Kind(cst.Assign, cst.AnnAssign, cst.For, cst.CompFor, cst.AugAssign, cst.WithItem, cst.NamedExpr,
               cst.AsName, cst.FunctionDef, cst.ClassDef, cst.Global, cst.Nonlocal)


class _OwnNodes(NoFieldVisits, cst.CSTVisitor):
    """Every node of one scope, not descending into nested functions, classes or lambdas."""

    def __init__(self, root: cst.CSTNode) -> None:
        super().__init__()
        self.root = root
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is not self.root and _NESTED_SCOPE(node):
            if _DEFINITION(node):
                self.found.append(node)  # its name is bound here
            return False
        self.found.append(node)
        return True


def own_nodes(scope: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes of a module or function body that belong to that scope."""
    visitor = _OwnNodes(scope)
    scope.visit(visitor)
    return visitor.found


def _targets(node: cst.BaseExpression) -> Iterator[cst.Name]:
    if isinstance(node, cst.Name):
        yield node
    elif isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            yield from _targets(element.value)
    elif isinstance(node, cst.StarredElement):
        yield from _targets(node.value)


@dataclass
class Bindings:
    """Names (per module/function) and `self` attributes (per class) that hold one kind of object."""

    names: dict[int, set[str]] = field(default_factory=dict)  # id(scope) -> tracked names
    bound: dict[int, set[str]] = field(default_factory=dict)  # id(scope) -> every name bound there
    attrs: dict[int, set[str]] = field(default_factory=dict)  # id(class) -> tracked self attributes


class Binder:
    """Finds, for one kind of object, the names that hold it: a name is tracked when every binding of
    it in its scope is one `takes_value` accepts (or a parameter `takes_param` accepts)."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.result = Bindings()
        self.layout = scope_layout(module)
        self._current: set[str] = set()
        self.chain: list[cst.CSTNode] = [module]

    # overridden by each use
    def takes_param(self, fn: cst.FunctionDef, param: cst.Param) -> bool:
        return False

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        return False

    def takes_iter(self, iterable: cst.BaseExpression) -> bool:
        return False

    def is_tracked(self, node: cst.BaseExpression) -> bool:
        """A name tracked in the scope being scanned (for `x = y` and loops over tracked lists)."""
        return isinstance(node, cst.Name) and node.value in self._current

    def holds(self, bindings: Bindings, expr: cst.BaseExpression) -> bool:
        """Another kind's bindings, looked up from the scope being scanned."""
        return holds_in(bindings, expr, self.chain)

    def run(self) -> Bindings:
        layout = self.layout
        scopes = [s for s in layout.scopes if not isinstance(s, cst.ClassDef)]
        for _ in range(2):  # a second pass sees `self.x` attributes found in other methods
            for scope in scopes:
                self.chain = layout.chains[id(scope)]
                self._scan(scope)
            for cls in layout.scopes:
                if isinstance(cls, cst.ClassDef):
                    self._scan_class(cls)
        return self.result

    def _scan(self, scope: _Scope) -> None:
        tracked: set[str] = set()
        bad: set[str] = set()
        bound: set[str] = set()
        if isinstance(scope, cst.FunctionDef):
            for p in params(scope):
                bound.add(p.name.value)
                (tracked if self.takes_param(scope, p) else bad).add(p.name.value)
        nodes = [node for node in self.layout.own(scope) if _BINDER(node)]
        for _ in range(2):  # `b = a` after `a` is known
            self._current = tracked - bad
            for node in nodes:
                for name, ok in self._bindings(node, scope):
                    bound.add(name)
                    (tracked if ok else bad).add(name)
        self.result.names[id(scope)] = tracked - bad
        self.result.bound[id(scope)] = bound

    def _bindings(self, node: cst.CSTNode, scope: _Scope) -> Iterator[tuple[str, bool]]:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                for name in _targets(target.target):
                    yield name.value, isinstance(target.target, cst.Name) and self.takes_value(node.value, None)
        elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
            yield node.target.value, self.takes_value(node.value, node.annotation.annotation) if node.value else \
                self.takes_value(cst.Name("None"), node.annotation.annotation)
        elif isinstance(node, (cst.For, cst.CompFor)):
            ok = isinstance(node.target, cst.Name) and self.takes_iter(node.iter)
            for name in _targets(node.target):
                yield name.value, ok
        elif isinstance(node, (cst.AugAssign, cst.WithItem, cst.NamedExpr)) or (
                isinstance(node, cst.AsName) and isinstance(node.name, cst.Name)):
            target = node.name if isinstance(node, cst.AsName) else getattr(node, "target", None)
            for name in _targets(target) if isinstance(target, cst.BaseExpression) else ():
                yield name.value, False
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node is not scope:
            yield node.name.value, False
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            for item in node.names:
                yield item.name.value, False

    def _scan_class(self, cls: cst.ClassDef) -> None:
        tracked: set[str] = set()
        bad: set[str] = set()
        for fn in cls.body.body:
            if not isinstance(fn, cst.FunctionDef) or not fn.params.params:
                continue
            me = fn.params.params[0].name.value
            self.chain = [self.module, cls, fn]
            self._current = self.result.names.get(id(fn), set())
            for node in self.layout.own(fn):
                targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else \
                    [node.target] if isinstance(node, (cst.AnnAssign, cst.AugAssign)) else []
                for target in targets:
                    if isinstance(target, cst.Attribute) and m.matches(target.value, m.Name(me)):
                        ok = isinstance(node, (cst.Assign, cst.AnnAssign)) and node.value is not None and \
                            len(targets) == 1 and self.takes_value(node.value, getattr(node, "annotation", None)
                                                                   and node.annotation.annotation)
                        (tracked if ok else bad).add(target.attr.value)
        self.result.attrs[id(cls)] = tracked - bad


class ScopedRule(TypedRule):
    """A TypedRule that knows, while transforming, the enclosing module/function/class scopes."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._scopes: list[cst.CSTNode] = []
        self._typing = 0  # > 0 inside an annotation or an import

    def on_visit(self, node: cst.CSTNode) -> bool:
        if _SCOPE(node):
            self._scopes.append(node)
        if _TYPING(node):
            self._typing += 1
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        if self._scopes and self._scopes[-1] is original_node:
            self._scopes.pop()
        if _TYPING(original_node):
            self._typing -= 1
        return super().on_leave(original_node, updated_node)

    def class_as_value(self, node: cst.Name | cst.Attribute, legacy: str, parent: cst.CSTNode | None) -> bool:
        """`node` names the legacy class outside an annotation or import, and not as `Class(...)` or
        `Class.attr` (isinstance(x, C), a factory C passed around, ...): code that may now get a new object."""
        if self._typing or self.legacy_class(node) != legacy:
            return False
        if isinstance(parent, cst.Call) and parent.func is node:
            return False
        return not (isinstance(parent, cst.Attribute) and parent.value is node)

    def holds(self, bindings: Bindings, expr: cst.BaseExpression) -> bool:
        """True when `expr` (a name or `self.attr`) is tracked by `bindings` where it is used."""
        return holds_in(bindings, expr, self._scopes)


def holds_in(bindings: Bindings, expr: cst.BaseExpression, scopes: list[cst.CSTNode]) -> bool:
    """True when `expr` (a name or `self.attr`) is tracked by `bindings` inside `scopes` (outermost first)."""
    if isinstance(expr, cst.Name):
        for scope in reversed(scopes):
            if isinstance(scope, cst.ClassDef):
                continue
            if expr.value in bindings.bound.get(id(scope), ()):
                return expr.value in bindings.names.get(id(scope), ())
        return False
    scopes = [s for s in scopes if not isinstance(s, COMPREHENSIONS)]
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and len(scopes) >= 2:
        method, cls = scopes[-1], scopes[-2]
        if not (isinstance(method, cst.FunctionDef) and isinstance(cls, cst.ClassDef) and method.params.params):
            return False
        if method.params.params[0].name.value != expr.value.value:
            return False
        return expr.attr.value in bindings.attrs.get(id(cls), ())
    return False


class _Layout(NoFieldVisits, cst.CSTVisitor):
    """Every scope of a module (in source order), its chain of enclosing scopes, and its own nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[cst.CSTNode] = []
        self.chains: dict[int, list[cst.CSTNode]] = {}
        self.scopes: list[cst.CSTNode] = []
        self._own: dict[int, list[cst.CSTNode]] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        if _SCOPE(node):
            self.stack.append(node)
            self.chains[id(node)] = list(self.stack)
            self.scopes.append(node)
        return True

    def own(self, scope: cst.CSTNode) -> list[cst.CSTNode]:
        if id(scope) not in self._own:
            self._own[id(scope)] = own_nodes(scope)
        return self._own[id(scope)]


_LAYOUTS: dict[int, tuple[cst.Module, _Layout]] = {}


def scope_layout(module: cst.Module) -> _Layout:
    """The (cached) scope layout of a module."""
    cached = _LAYOUTS.get(id(module))
    if cached is not None and cached[0] is module:
        return cached[1]
    layout = _Layout()
    module.visit(layout)
    _LAYOUTS.clear()  # one module at a time
    _LAYOUTS[id(module)] = (module, layout)
    return layout

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self.stack and self.stack[-1] is original_node:
            self.stack.pop()
