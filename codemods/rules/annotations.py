"""Legacy annotations: a record or wrapper is now its checkpoint path (`str`); the manager is TinyCheckpointManager.

A full-legacy record annotation stays as it was where the flow rules left the value it annotates a record
(its unit is blocked by a manual site somewhere): `def f(pr: str)` on a record would be wrong.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from codemods.rules._dataflow import Builder, Graph
from codemods.rules._flowrule import SKIPPERS, _whole_tree
from codemods.rules._legacy_types import TypedRule, dotted
from codemods.rules.store_parameters import StoreParameters

# legacy class -> the annotation that replaces it (inside Optional[...], list[...], dict[...] too)
TO_STR = frozenset({"PolicyRecord", "PolicyWrapper", "MockPolicyRecord"})
RENAMED = {"SimpleCheckpointManager": "TinyCheckpointManager"}
_LITERAL = {"Literal", "typing.Literal", "typing_extensions.Literal"}
# Records whose fate the flow rules decide (PolicyWrapper is the half-state rules' business: always a path).
FLOW_RECORDS = frozenset({"PolicyRecord", "MockPolicyRecord"})
# Every file's value graph, as it was: the facts of the last flow rule (whose whole-tree solution is cached).
FLOW_FACTS = StoreParameters.NAME


class Annotations(TypedRule):
    NAME = "annotations"
    RELEVANT = frozenset({*TO_STR, *RENAMED})
    DESCRIPTION = ("Annotations PolicyRecord / PolicyWrapper -> str (also inside Optional, list, dict and "
                   "string annotations); SimpleCheckpointManager -> TinyCheckpointManager.")

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self._depth = 0  # > 0 inside an annotation
        self._literal = 0  # > 0 inside Literal[...] (strings there are values, not types)
        self._attr_names: set[int] = set()  # the `.attr` Name of an Attribute (matched on the Attribute)
        self._kept = 0  # > 0 inside the annotation of a value that stays a record
        self._staying = self._staying_records() if self.TO_STR & FLOW_RECORDS else set()

    def _staying_records(self) -> set[int]:
        """ids of the annotation expressions whose value's unit the flow rules left a record (blocked)."""
        graphs = self.index.get(FLOW_FACTS)
        module = self.context.full_module_name or "__main__"
        own = next((g for g in graphs or () if isinstance(g, Graph) and g.module == module), None)
        if own is None:  # no flow facts (run alone, or without the flow rules): nothing is known to stay
            return set()
        solution = _whole_tree(graphs)

        def stays(key: str) -> bool:
            return solution.is_legacy(key) and not solution.migrates(key)

        if not any(stays(k) for k in {k for k, *_ in own.facts} | {k for pair in own.unions for k in pair}):
            return set()  # the common case: no value of this file stays a record, no graph to build
        annotated = _Annotated(self.context.wrapper, module, self.context.full_package_name, self.config,
                               skip_fns=SKIPPERS).annotated
        return {i for i, key in annotated.items() if stays(key)}

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self._depth += 1
        self._kept += id(node.annotation) in self._staying

    def leave_Annotation(self, original_node: cst.Annotation, updated_node: cst.Annotation) -> cst.Annotation:
        self._depth -= 1
        self._kept -= id(original_node.annotation) in self._staying
        return updated_node

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if dotted(node.value) in _LITERAL:
            self._literal += 1

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.Subscript:
        if dotted(original_node.value) in _LITERAL:
            self._literal -= 1
        return updated_node

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._attr_names.add(id(node.attr))

    TO_STR: frozenset[str] = TO_STR
    RENAMED: dict[str, str] = RENAMED

    def _replacement(self, legacy: str | None) -> str | None:
        if legacy in self.TO_STR:
            return None if self._kept and legacy in FLOW_RECORDS else "str"
        new = self.RENAMED.get(legacy or "")
        if new:
            self.add_needed_import(self.config.target, new)
        return new

    def _rewrite(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> Any:
        if not self._depth or self._literal:
            return updated
        legacy = self.legacy_class(original)
        new = self._replacement(legacy)
        if new is None:
            return updated
        self.migrated(original, f"annotation {legacy} -> {new}")
        self.remove_unused_import_by_node(original)
        return cst.Name(new)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> Any:
        if id(original_node) in self._attr_names:
            return updated_node
        return self._rewrite(original_node, updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> Any:
        return self._rewrite(original_node, updated_node)

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> Any:
        """`"PolicyWrapper"` / `"Optional[PolicyWrapper]"` -> `"str"` / `"Optional[str]"`."""
        if not self._depth or self._literal or "\\" in original_node.value:
            return updated_node
        text = original_node.evaluated_value
        if not isinstance(text, str):
            return updated_node
        try:
            parsed = cst.parse_expression(text)
        except cst.ParserSyntaxError:
            return updated_node
        rename = _StringNames(self)
        new_text = cst.Module([]).code_for_node(parsed.visit(rename))
        if not rename.changed or original_node.quote in new_text:
            return updated_node
        self.migrated(original_node, f"string annotation {text!r} -> {new_text!r}")
        return updated_node.with_changes(value=f"{original_node.prefix}{original_node.quote}{new_text}"
                                               f"{original_node.quote}")


class _Annotated(Builder):
    """The flow rules' graph builder, noting which value (key) each annotation annotates."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.annotated: dict[int, str] = {}  # id of an annotation expression -> key
        super().__init__(*args, **kwargs)

    def annotate(self, key: str, ann: cst.BaseExpression, depth: int = 0) -> None:
        if depth == 0:
            self.annotated[id(ann)] = key
        super().annotate(key, ann, depth)


class _StringNames(cst.CSTTransformer):
    """Rewrites the legacy names of a parsed string annotation (matched through the file's imports)."""

    def __init__(self, rule: Annotations) -> None:
        super().__init__()
        self.rule = rule
        self.changed = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return False  # an attribute chain is matched as a whole in leave_Attribute

    def _swap(self, node: cst.BaseExpression) -> cst.BaseExpression:
        name = dotted(node)
        new = self.rule._replacement(self.rule.string_class(name)) if name else None
        if new is None:
            return node
        self.changed = True
        return cst.Name(new)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._swap(updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        return self._swap(updated_node)
