"""Legacy annotations: a record or wrapper is now its checkpoint path (`str`); the manager is TinyCheckpointManager.

An annotation stays as it was where the value it annotates stays legacy (its unit is held back by a
manual site somewhere in the tree): `def f(pr: str)` on a record, or `TinyCheckpointManager` on a
SimpleCheckpointManager, would lie to every type checker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.shapes import dotted
from codemods.edits import Edit
from codemods.rules._rule import Rule

# legacy class -> the annotation that replaces it (inside Optional[...], list[...], dict[...] and strings too)
TO_STR = frozenset({"PolicyRecord", "PolicyWrapper", "MockPolicyRecord"})
RENAMED = {"SimpleCheckpointManager": "TinyCheckpointManager"}
_LITERAL = {"Literal", "typing.Literal", "typing_extensions.Literal"}


class Annotations(Rule):
    NAME = "annotations"
    DESCRIPTION = ("Annotations PolicyRecord / PolicyWrapper / MockPolicyRecord -> str (also inside Optional, list, "
                   "dict and string annotations); SimpleCheckpointManager -> TinyCheckpointManager; left as they are "
                   "while the annotated value stays legacy.")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        imported = {local: qualified for _, pairs in a.imports for local, qualified in pairs}
        for annotation in a.walk.annotations:
            key = a.walk.annotated.get(id(annotation.annotation))
            stays = bool(key) and a.solution.is_legacy(key) and not a.solution.migrates(key)
            found = _Parts()
            annotation.annotation.visit(found)
            for node in found.names:
                legacy = a.legacy(node)
                new = self._replacement(legacy, stays)
                if new is not None:
                    yield self.replace(node, f"annotation {legacy} -> {new}", lambda _u, n=new: cst.Name(n),
                                       imports=_imports(a, new))
            for string in found.strings:
                yield from self._string(a, string, imported, stays)
        yield from self._aliases(a)

    @classmethod
    def facts(cls, a: Analysis) -> dict[str, list[Any]]:
        """("record_aliases": names of this module's type aliases that name a record class): the runner counts
        where else the project names them."""
        names = [name for name, value in a.walk.aliases.items() if _record_names(a, value)]
        return {"record_aliases": names} if names else {}

    def _aliases(self, a: Analysis) -> Iterable[Edit]:
        """A module-level alias (`Pair = tuple[PolicyRecord, float]`) is an annotation of every value it
        annotates: rewritten when all of them migrate and no other file of the project names it (the runner
        counts the word), manual when some stay or other files may use it."""
        s = a.solution
        words = dict(a.index.get("alias_words", ()))
        for name, keys in a.walk.alias_uses.items():
            value = a.walk.aliases[name]
            found = _Parts()
            value.visit(found)
            names = [(n, a.legacy(n)) for n in found.names if a.legacy(n) in TO_STR or a.legacy(n) in RENAMED]
            staying = {s.is_legacy(k) and not s.migrates(k) for k in keys}
            if not names or staying == {True}:
                continue
            elsewhere = words.get(name, 1 << 30) > len(re.findall(rf"\b{re.escape(name)}\b", a.source))
            if staying == {False} and elsewhere:
                yield self.manual(names[0][0], f"type alias {name} annotates checkpoint paths here, and other files name "
                                               "it; make it str where every value it annotates is a path")
            elif staying == {False}:
                for node, legacy in names:
                    new = "str" if legacy in TO_STR else RENAMED[legacy or ""]
                    yield self.replace(node, f"type alias {legacy} -> {new}", lambda _u, n=new: cst.Name(n),
                                       imports=_imports(a, new))
            else:
                yield self.manual(names[0][0], f"type alias {name} annotates values that migrate and values that stay "
                                               "legacy; split it (str for the checkpoint paths)")

    @staticmethod
    def _replacement(legacy: str | None, stays: bool) -> str | None:
        if legacy in TO_STR:
            return None if stays else "str"
        new = RENAMED.get(legacy or "")
        return None if new is None or stays else new

    def _string(self, a: Analysis, node: cst.SimpleString, imported: dict[str, str], stays: bool) -> Iterable[Edit]:
        """`"PolicyWrapper"` / `"Optional[PolicyWrapper]"` -> `"str"` / `"Optional[str]"`."""
        text = node.evaluated_value
        if "\\" in node.value or not isinstance(text, str):
            return
        try:
            parsed = cst.parse_expression(text)
        except cst.ParserSyntaxError:
            return
        rename = _StringNames(lambda name: self._replacement(_string_class(a, name, imported), stays))
        new_text = cst.Module([]).code_for_node(parsed.visit(rename))
        if not rename.changed or node.quote in new_text:
            return
        needed = [pair for new in rename.used for pair in _imports(a, new)]
        yield self.replace(node, f"string annotation {text!r} -> {new_text!r}",
                           lambda u: u.with_changes(value=f"{node.prefix}{node.quote}{new_text}{node.quote}"),
                           imports=needed)


def _record_names(a: Analysis, value: cst.CSTNode) -> bool:
    found = _Parts()
    value.visit(found)
    return any(a.legacy(n) in TO_STR or a.legacy(n) in RENAMED for n in found.names)


def _imports(a: Analysis, new: str) -> list[tuple[str, str | None]]:
    return [(a.config.target, new)] if new in RENAMED.values() else []


def _string_class(a: Analysis, text: str, imported: dict[str, str]) -> str | None:
    """The legacy class a dotted name in a string annotation means, through the file's imports."""
    head, _, rest = text.strip().partition(".")
    qualified = imported.get(head)
    if qualified is None:
        return None
    return a.names.legacy_class(f"{qualified}.{rest}" if rest else qualified)


class _Parts(cst.CSTVisitor):
    """The outermost names and attribute chains of an annotation, and its strings (not inside Literal[...])."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[cst.BaseExpression] = []
        self.strings: list[cst.SimpleString] = []

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        node.value.visit(self)
        if dotted(node.value) in _LITERAL:
            return False  # strings there are values, not types
        for element in node.slice:
            element.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.names.append(node)
        node.value.visit(self)  # (not the attribute's own name: `x.PolicyRecord` is matched as a whole)
        return False

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.strings.append(node)


class _StringNames(cst.CSTTransformer):
    """Rewrites the legacy names of a parsed string annotation."""

    def __init__(self, replacement: Any) -> None:
        super().__init__()
        self.replacement = replacement
        self.changed = False
        self.used: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return False  # an attribute chain is matched as a whole in leave_Attribute

    def _swap(self, node: cst.BaseExpression) -> cst.BaseExpression:
        name = dotted(node)
        new = self.replacement(name) if name else None
        if new is None:
            return node
        self.changed = True
        self.used.add(new)
        return cst.Name(new)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._swap(updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        return self._swap(updated_node)
