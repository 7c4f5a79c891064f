"""Matching helpers the half-state rules share: re-exported legacy names, legacy annotations, typed names.

A name is legacy by where it is imported from (`LegacyRule.legacy_class`), extended here with the
re-exports found across the tree (`metta/rl/__init__.py` doing `from metta.rl.simple_checkpoint_manager
import SimpleCheckpointManager` makes `metta.rl.SimpleCheckpointManager` legacy too); those facts are
collected by the `legacy_imports` rule.
"""  # noqa: TCK004 (documents the legacy paths it matches)

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import libcst as cst
import libcst.matchers as m

from codemods.rules._base import Kind, LegacyRule, NoFieldVisits, resolve_relative

REEXPORTS_FROM = "legacy_imports"  # the rule whose facts hold ("reexport", qualified name, class, source)
_OPTIONAL = {"Optional", "typing.Optional"}
_CONTAINERS = {"list", "List", "typing.List", "Sequence", "typing.Sequence", "Iterable", "typing.Iterable"}


def reexports(index: dict) -> dict[str, tuple[str, str]]:
    """Qualified name of a re-export -> (legacy class, qualified name it re-exports)."""
    return {f[1]: (f[2], f[3]) for f in index.get(REEXPORTS_FROM, []) if f and f[0] == "reexport"}


def code(node: cst.CSTNode) -> str:
    """The source text of a node."""
    return cst.Module([]).code_for_node(node)


def dotted(node: cst.CSTNode) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class TypedRule(LegacyRule):
    """A LegacyRule that also knows re-exports, local import bindings and legacy annotations.

    A file whose imports reach none of the rule's `RELEVANT` legacy classes (nor a legacy module) is
    returned as it is, before any metadata is computed: most files a run sees are not the rule's business.
    """

    RELEVANT: ClassVar[frozenset[str]] = frozenset()  # legacy classes this rule rewrites (empty: always run)

    def transform_module(self, tree: cst.Module) -> cst.Module:
        pairs = import_pairs(tree, self.context.full_package_name)
        self.imported, self._every_import = dict(pairs), [q for _, q in pairs]
        if self.RELEVANT and not self.relevant(tree):
            return tree
        return super().transform_module(tree)

    def relevant(self, tree: cst.Module) -> bool:
        """Cheap test on the imports: may this file hold anything this rule rewrites? (Every import
        counts, also a legacy one whose name a later import binds again.)"""
        for qualified in self._every_import:
            known = self._known(qualified)
            if known in self.RELEVANT or (known is None and self.config.is_legacy_module(qualified)):
                return True  # (a legacy module itself, or a name in one the table does not list)
        return False

    def visit_Module(self, node: cst.Module) -> None:
        self.imported = import_map(node, self.context.full_package_name)

    def _known(self, qualified: str) -> str | None:
        found = self.config.legacy_class(qualified)
        if found:
            return found
        hit = reexports(self.index).get(qualified)
        return hit[0] if hit else None

    def known_class(self, qualified: str) -> str | None:
        """Also a re-export of a legacy class (found across the tree)."""
        return self._known(qualified)

    def string_class(self, text: str) -> str | None:
        """Legacy class named by the source text of a string annotation (`"SimpleCheckpointManager"`)."""
        head, _, rest = text.strip().partition(".")
        qualified = self.imported.get(head)
        if qualified is None:
            return None
        return self._known(f"{qualified}.{rest}" if rest else qualified)

    def annotation_type(self, node: cst.BaseExpression | None) -> tuple[str | None, bool]:
        """(legacy class, is_container) of X, Optional[X], X | None, list[X] (also written as strings)."""
        if node is None:
            return None, False
        if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
            try:
                node = cst.parse_expression(node.evaluated_value)
            except cst.ParserSyntaxError:
                return None, False
            name = dotted(node)
            if name is not None:
                return self.string_class(name), False
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if m.matches(other, m.Name("None")):
                    return self.annotation_type(side)
            return None, False
        if isinstance(node, cst.Subscript) and len(node.slice) == 1:
            inner = node.slice[0].slice
            if not isinstance(inner, cst.Index):
                return None, False
            outer = dotted(node.value) or ""
            if outer in _OPTIONAL:
                return self.annotation_type(inner.value)
            if outer in _CONTAINERS:
                kind, container = self.annotation_type(inner.value)
                return (kind, True) if kind and not container else (None, False)
            return None, False
        return (self.legacy_class(node) if isinstance(node, (cst.Name, cst.Attribute)) else None), False


class _Imports(NoFieldVisits, cst.CSTVisitor):
    """Every import statement of a module (any scope), without walking into expressions."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if _IMPORT(node):
            self.found.append(node)
            return False
        return not _NO_IMPORTS_INSIDE(node)


_IMPORT = Kind(cst.Import, cst.ImportFrom)
_NO_IMPORTS_INSIDE = Kind(cst.BaseExpression, cst.Annotation, cst.Parameters, cst.Decorator)


_LAST_PAIRS: list[Any] = [None, None, []]  # tree, package, pairs: the rules ask again for an unchanged tree


def import_pairs(tree: cst.Module, package: str | None) -> list[tuple[str, str]]:
    """(local name, qualified name) of everything the file imports (any scope), in order."""
    if _LAST_PAIRS[0] is tree and _LAST_PAIRS[1] == package:
        return list(_LAST_PAIRS[2])
    found: list[tuple[str, str]] = []
    visitor = _Imports()
    tree.visit(visitor)
    for imp in visitor.found:
        if isinstance(imp, cst.ImportFrom) and not isinstance(imp.names, cst.ImportStar):
            module = import_module(imp, package)
            found += [(a.evaluated_alias or a.evaluated_name, f"{module}.{a.evaluated_name}") for a in imp.names]
        elif isinstance(imp, cst.Import):
            found += [(a.evaluated_alias or a.evaluated_name, a.evaluated_name) for a in imp.names]
    _LAST_PAIRS[:] = [tree, package, found]
    return list(found)


def import_map(tree: cst.Module, package: str | None) -> dict[str, str]:
    """Local name -> qualified name of everything the file imports (any scope; the last import of a name wins)."""
    return dict(import_pairs(tree, package))


def qualify(node: cst.BaseExpression | None, imported: dict[str, str]) -> str | None:
    """Qualified name of a name/attribute chain (or a string of one) through the file's imports."""
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        text = node.evaluated_value.strip()
    else:
        text = dotted(node) if node is not None else None
    if not text:
        return None
    head, _, rest = text.partition(".")
    base = imported.get(head)
    return None if base is None else f"{base}.{rest}" if rest else base


def import_module(node: cst.ImportFrom, package: str | None) -> str:
    """The absolute module a `from ... import` imports from."""
    name = dotted(node.module) if node.module is not None else ""
    if node.relative:
        return resolve_relative("." * len(node.relative) + (name or ""), package)
    return name or ""


def params(node: cst.FunctionDef) -> Iterator[cst.Param]:
    """Every parameter of a function, in order."""
    p = node.params
    yield from p.posonly_params
    yield from p.params
    if isinstance(p.star_arg, cst.Param):
        yield p.star_arg
    yield from p.kwonly_params
    if p.star_kwarg is not None:
        yield p.star_kwarg


def is_test_file(path: str | None) -> bool:
    """pytest files, where fixtures are injected by parameter name."""
    name = (path or "").replace("\\", "/").rpartition("/")[2]
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def is_fixture(node: cst.FunctionDef) -> bool:
    """`@pytest.fixture` / `@fixture` (with or without arguments)."""
    for deco in node.decorators:
        target = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        if (dotted(target) or "").rpartition(".")[2] == "fixture":
            return True
    return False
