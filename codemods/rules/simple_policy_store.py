"""SimplePolicyStore / PolicyWrapper -> checkpoint paths: records become `latest_checkpoint(uri)` and wrapper
attributes are read from the path (the stores themselves go in simple_store_parameters)."""

from __future__ import annotations

from typing import Any

import libcst as cst
from libcst.metadata import ParentNodeProvider

from codemods.rules._bindings import Binder, Bindings, ScopedRule
from codemods.rules._legacy_types import TypedRule

STORE, WRAPPER = "SimplePolicyStore", "PolicyWrapper"
RECORD_CALLS = {"policy_record", "policy_record_or_mock"}
NEW_CALL = "latest_checkpoint"  # from the target module: a path, run dir or file:// URI -> checkpoint path
ATTRS = {  # wrapper attribute -> template of its replacement ({} is the record variable, now a path)
    "policy": "torch.load({}, weights_only=False)",
    "uri": "{}",
    "file_path": "{}",
    "run_name": "parse_checkpoint_path({})[0]",
}
METADATA = {"epoch": "parse_checkpoint_path({})[1]"}
MOCK = ("policy_record_or_mock returns a mock policy when the URI is None; "
        "decide what to play without a checkpoint")
BUILT = "PolicyWrapper(...) built by hand; records are checkpoint paths now: pass a path (checkpoint_path(run, epoch))"
AS_VALUE = "PolicyWrapper used as a value (isinstance, a factory, ...); records are checkpoint paths now: decide"
SCHEME = "{}:// URIs have no tinyckpt counterpart; download the checkpoint or pass a local path"


def is_store(rule: TypedRule, node: cst.BaseExpression) -> bool:
    """`SimplePolicyStore(...)` or `SimplePolicyStore.create(...)`."""
    if isinstance(node, cst.Call):
        return rule.legacy_class(node.func) == STORE or (
            isinstance(node.func, cst.Attribute) and node.func.attr.value == "create"
            and rule.legacy_class(node.func.value) == STORE)
    return False


def stores_of(rule: Any, module: cst.Module) -> Bindings:
    """Names and self attributes holding a SimplePolicyStore."""
    return _Stores(rule, module).run()


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _uri(call: cst.Call) -> cst.Arg | None:
    args = [a for a in call.args if a.keyword is None or a.keyword.value == "policy_uri"]
    return args[0] if args and not args[0].star and (args[0].keyword or call.args[0] is args[0]) else None


def record_problem(call: cst.Call) -> str | None:
    """Why `store.policy_record[_or_mock](...)` cannot become a checkpoint path (None: it can)."""
    uri = _uri(call)
    method = call.func.attr.value  # type: ignore[attr-defined]
    if uri is None or any(a.star for a in call.args):
        return f"{method} without a URI argument; decide which checkpoint to load"
    literal = uri.value.evaluated_value if isinstance(uri.value, cst.SimpleString) else None
    if isinstance(uri.value, cst.FormattedString) and uri.value.parts and \
            isinstance(uri.value.parts[0], cst.FormattedStringText):
        literal = uri.value.parts[0].value
    if isinstance(literal, str) and "://" in literal and not literal.startswith("file://"):
        return SCHEME.format(literal.partition("://")[0])
    if method == "policy_record_or_mock" and not isinstance(uri.value, (cst.SimpleString, cst.FormattedString)):
        return MOCK
    return None


class SimplePolicyStoreRule(ScopedRule):
    NAME = "simple_policy_store"
    RELEVANT = frozenset({STORE, WRAPPER})
    DESCRIPTION = ("store.policy_record(uri) / policy_record_or_mock(uri, name) on paths and file:// URIs -> "
                   "latest_checkpoint(uri); wrapper .policy/.uri/.run_name/.metadata.epoch read from the path; "
                   "mocks, other URI schemes and other wrapper attributes -> manual.")
    METADATA_DEPENDENCIES = (*ScopedRule.METADATA_DEPENDENCIES, ParentNodeProvider)

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.stores = stores_of(self, node)
        self.lists = _Lists(self, node).run()
        self.wrappers = _Wrappers(self, node).run()

    def is_store(self, node: cst.BaseExpression) -> bool:
        return is_store(self, node)

    def record_call(self, node: cst.CSTNode, holds: Any) -> bool:
        """`<store>.policy_record(...)` on a known store (via `holds`)."""
        return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in RECORD_CALLS and (holds(node.func.value) or self.is_store(node.func.value)))

    # -- calls -----------------------------------------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        if self.record_call(original_node, lambda e: self.holds(self.stores, e)):
            problem = record_problem(original_node)
            if problem:
                self.manual(original_node, problem)
                return updated_node
            self.migrated(original_node, f"{original_node.func.attr.value}(uri) -> {NEW_CALL}(uri)")  # type: ignore[attr-defined]
            self.add_needed_import(self.config.target, NEW_CALL)
            self.remove_unused_import_by_node(original_node.func)
            return cst.Call(cst.Name(NEW_CALL), [_uri(updated_node).with_changes(  # type: ignore[union-attr]
                keyword=None, equal=cst.MaybeSentinel.DEFAULT, comma=cst.MaybeSentinel.DEFAULT)])
        return updated_node

    # -- the wrapper class itself ---------------------------------------------------------------------
    def _class_use(self, node: cst.Name | cst.Attribute) -> bool:
        parent = self.get_metadata(ParentNodeProvider, node, None)
        if self._typing or self.legacy_class(node) != WRAPPER:
            return False
        if isinstance(parent, cst.Call) and parent.func is node:
            self.manual(node, BUILT)
            return True
        if self.class_as_value(node, WRAPPER, parent):
            self.manual(node, AS_VALUE)
            return True
        return False

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> Any:
        self._class_use(original_node)
        return updated_node

    # -- wrapper attributes ------------------------------------------------------------------------------
    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> Any:
        if self._class_use(original_node):
            return updated_node
        inner = original_node.value
        if isinstance(inner, cst.Attribute) and inner.attr.value == "metadata" and self.holds(self.wrappers, inner.value):
            return self._replace(original_node, updated_node.value.value, METADATA, original_node.attr.value,  # type: ignore[attr-defined]
                                 "metadata.")
        if not self.holds(self.wrappers, inner):
            return updated_node
        attr = original_node.attr.value
        parent = self.get_metadata(ParentNodeProvider, original_node, None)
        if attr == "metadata" and (isinstance(parent, cst.Attribute) and parent.value is original_node):
            return updated_node  # handled by the enclosing attribute
        if attr == "metadata" and isinstance(parent, cst.Subscript) and parent.value is original_node:
            return updated_node  # handled by the enclosing subscript
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign)) or (
                isinstance(parent, cst.AnnAssign) and parent.target is original_node):
            self.manual(original_node, f"assigns PolicyWrapper.{attr}; a checkpoint path has no attributes")
            return updated_node
        return self._replace(original_node, updated_node.value, ATTRS, attr, "")

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> Any:
        inner = original_node.value
        if not (isinstance(inner, cst.Attribute) and inner.attr.value == "metadata"
                and self.holds(self.wrappers, inner.value)):
            return updated_node
        key = original_node.slice[0].slice if len(original_node.slice) == 1 else None
        value = key.value if isinstance(key, cst.Index) else None
        name = value.evaluated_value if isinstance(value, cst.SimpleString) else None
        return self._replace(original_node, updated_node.value.value, METADATA, name if isinstance(name, str) else "?",  # type: ignore[attr-defined]
                             "metadata.")

    def _replace(self, original: cst.CSTNode, record: cst.BaseExpression, table: dict[str, str], attr: str,
                 prefix: str) -> Any:
        template = table.get(attr)
        if template is None:
            self.manual(original, f"PolicyWrapper.{prefix}{attr} has no tinyckpt counterpart (a checkpoint path "
                                  "carries only run name and epoch); decide")
            return original
        if "torch." in template:
            self.add_needed_import("torch")
        if "parse_checkpoint_path" in template:
            self.add_needed_import(self.config.target, "parse_checkpoint_path")
        self.migrated(original, f"PolicyWrapper.{prefix}{attr} -> {template.format('<path>')}")
        return cst.parse_expression(template.format(_code(record)))



class _Stores(Binder):
    def __init__(self, rule: Any, module: cst.Module) -> None:
        super().__init__(module)
        self.rule = rule

    def takes_param(self, fn: cst.FunctionDef, param: cst.Param) -> bool:
        return param.annotation is not None and self.rule.annotation_type(param.annotation.annotation) == (STORE, False)

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        if annotation is not None:
            return self.rule.annotation_type(annotation) == (STORE, False)
        return self.rule.is_store(value) or self.is_tracked(value)


class _Wrappers(_Stores):
    def takes_param(self, fn: cst.FunctionDef, param: cst.Param) -> bool:
        return param.annotation is not None and self.rule.annotation_type(param.annotation.annotation) == (WRAPPER, False)

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        if annotation is not None:
            return self.rule.annotation_type(annotation) == (WRAPPER, False)
        return self.is_tracked(value) or (self.rule.record_call(value, lambda e: self.holds(self.rule.stores, e))
                                          and record_problem(value) is None)  # type: ignore[arg-type]

    def takes_iter(self, iterable: cst.BaseExpression) -> bool:
        return self.holds(self.rule.lists, iterable)


class _Lists(_Stores):
    def takes_param(self, fn: cst.FunctionDef, param: cst.Param) -> bool:
        return param.annotation is not None and self.rule.annotation_type(param.annotation.annotation) == (WRAPPER, True)

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        if annotation is not None:
            return self.rule.annotation_type(annotation) == (WRAPPER, True)
        elements = [value.elt] if isinstance(value, cst.ListComp) else \
            [e.value for e in value.elements] if isinstance(value, cst.List) else []
        return bool(elements) and all(
            self.rule.record_call(e, lambda s: self.holds(self.rule.stores, s)) and record_problem(e) is None  # type: ignore[arg-type]
            for e in elements)
