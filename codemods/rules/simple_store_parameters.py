"""Store plumbing of the half state: SimplePolicyStore variables, parameters and arguments go once unused."""

from __future__ import annotations

from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import MetadataWrapper, ParentNodeProvider, ScopeProvider

from codemods.config import Config
from codemods.rules._base import CONFIG_KEY, NoFieldVisits
from codemods.rules._bindings import ScopedRule
from codemods.rules._legacy_types import import_map, params, qualify
from codemods.rules.simple_policy_store import (
    RECORD_CALLS,
    STORE,
    is_store,
    record_problem,
    stores_of,
)

# what goes, once every use of the store went with simple_policy_store (decided over the whole tree,
# so every caller drops exactly the arguments its callee drops)
REMOVED = ("store = SimplePolicyStore(...) / SimplePolicyStore.create(...)", "def f(..., store: SimplePolicyStore)",
           "f(..., store, ...)")


class SimpleStoreParameters(ScopedRule):
    NAME = "simple_store_parameters"
    RELEVANT = frozenset({STORE})
    DESCRIPTION = ("Removed once unused: " + "; ".join(REMOVED) + " (a block left empty gets `pass`). A store "
                   "argument with side effects, or an unused store whose line cannot simply go -> manual.")
    METADATA_DEPENDENCIES = (*ScopedRule.METADATA_DEPENDENCIES, ParentNodeProvider, ScopeProvider)

    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """("param", function, name, position, uses) for store parameters; ("ref", function) for functions
        used other than by a call (their parameters must stay)."""
        config = context.scratch.get(CONFIG_KEY) or Config()
        module = context.full_module_name or ""
        imported = import_map(tree, context.full_package_name)
        local = {fn.name.value for fn in tree.body if isinstance(fn, cst.FunctionDef)}

        def function_of(node: cst.BaseExpression) -> str | None:
            if isinstance(node, cst.Name) and node.value in local:
                return f"{module}.{node.value}"
            return qualify(node, imported)

        facts: list[Any] = [("ref", f) for f in sorted(set(filter(None, map(function_of, _non_call_names(tree)))))]
        store_params = [(fn, position, param) for fn in tree.body if isinstance(fn, cst.FunctionDef)
                        for position, param in enumerate(params(fn)) if param.annotation is not None
                        and config.legacy_class(qualify(param.annotation.annotation, imported) or "") == STORE]
        if not store_params:
            return facts
        wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
        parents, scopes = wrapper.resolve(ParentNodeProvider), wrapper.resolve(ScopeProvider)
        for fn, position, param in store_params:
            scope = scopes.get(fn.body)
            assignments = scope[param.name.value] if scope else set()
            uses = [_use(access.node, parents, function_of) for a in assignments for access in a.references]
            keyword_only = any(p is param for p in fn.params.kwonly_params)
            facts.append(("param", f"{module}.{fn.name.value}", param.name.value,
                          None if keyword_only else position, uses))
        return facts

    def relevant(self, tree: cst.Module) -> bool:
        """Also a file that calls (or defines) a function whose store parameter goes."""
        removable = _removable(self.index.get(self.NAME, []))
        module = self.context.full_module_name
        return super().relevant(tree) or any(q in removable for q in self.imported.values()) or any(
            f"{module}.{s.name.value}" in removable for s in tree.body if isinstance(s, cst.FunctionDef))

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.removable = _removable(self.index.get(self.NAME, []))
        self.stores = stores_of(self, node)
        self._drop_lines: set[int] = set()

    def is_store(self, node: cst.BaseExpression) -> bool:
        return is_store(self, node)

    def _callee(self, call: cst.Call) -> str | None:
        if isinstance(call.func, cst.Name) and any(isinstance(s, cst.FunctionDef) and s.name.value == call.func.value
                                                   for s in self._module.body):
            return f"{self.context.full_module_name}.{call.func.value}"
        names = sorted(self.qualified_names(call.func) & set(self.removable))
        return names[0] if names else None

    def _dropped(self, call: cst.Call) -> list[int]:
        """Indexes of the arguments of `call` that pass a removed store parameter."""
        callee = self._callee(call)
        if callee is None:
            return []
        found = []
        for position, arg in enumerate(call.args):
            if arg.star:
                return []
            for name, where in self.removable.get(callee, ()):
                if (arg.keyword and arg.keyword.value == name) or (arg.keyword is None and position == where):
                    found.append(position)
        return found

    # -- store variables that end up unused --------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            self._store_binding(node, node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._store_binding(node, node.target, node.value)

    def _store_binding(self, node: cst.CSTNode, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        """`name = <store>` whose every use goes: its line goes too, or it is manual when that is no plain
        line deletion (decided over every binding of the name, so all of them go or none)."""
        if not (isinstance(target, cst.Name) and value is not None and self.is_store(value)
                and self.holds(self.stores, target)):
            return
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return
        # every binding of the name in its scope, and every use of them (nested functions included)
        assignments = scope.assignments[target.value]
        if not all(self._use_goes(access.node) for a in assignments for access in a.references):
            return
        lines = [self._store_line(a.node) for a in assignments]
        if any(isinstance(line, str) for line in lines):
            own = self._store_line(target)
            problem = own if isinstance(own, str) else "another binding of its name cannot simply go"
            self.manual(node, f"the store is not used any more, but {problem}; remove it by hand")
        else:
            self._drop_lines.update(id(line) for line in lines)

    def _use_goes(self, name: cst.CSTNode) -> bool:
        """A use of a store variable that the migration removes (a record call or a dropped argument)."""
        parent = self.get_metadata(ParentNodeProvider, name, None)
        if isinstance(parent, cst.Attribute):
            call = self.get_metadata(ParentNodeProvider, parent, None)
            return _record_call(call) and record_problem(call) is None  # type: ignore[arg-type]
        if isinstance(parent, cst.Arg):
            call = self.get_metadata(ParentNodeProvider, parent, None)
            return isinstance(call, cst.Call) and any(call.args[i] is parent for i in self._dropped(call))
        return False

    def _store_line(self, name: cst.CSTNode) -> cst.SimpleStatementLine | str:
        """The line `name = <store>` that binds `name`, or why deleting a line would not remove just that."""
        parent = self.get_metadata(ParentNodeProvider, name, None)
        assign = self.get_metadata(ParentNodeProvider, parent, None) if isinstance(parent, cst.AssignTarget) else parent
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and assign.targets[0].target is name
                or isinstance(assign, cst.AnnAssign) and assign.target is name and assign.value is not None):
            return "its name is also bound another way"
        if not self.is_store(assign.value):  # type: ignore[arg-type]
            return "its name is also assigned something else"
        if not _pure(assign.value):  # type: ignore[arg-type]
            return "building it calls code in its arguments (keep the side effects you need)"
        line = self.get_metadata(ParentNodeProvider, assign, None)
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1):
            return "it is built on a line with other statements"
        return line

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> Any:
        return updated_node.with_changes(body=self._without_stores(original_node.body, updated_node.body, True))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._without_stores(original_node.body, updated_node.body, False))

    def _without_stores(self, original: Any, updated: Any, block: bool) -> list[Any]:
        """Drop the unused store lines; their leading blank lines and comments stay, on the next line (a block
        left empty gets a `pass`)."""
        body: list[Any] = []
        carry: list[cst.EmptyLine] = []
        for old, new in zip(original, updated):
            if id(old) in self._drop_lines:
                self.migrated(old, "removed the store: nothing uses it any more")
                carry += list(new.leading_lines)
                continue
            body.append(new.with_changes(leading_lines=[*carry, *new.leading_lines]) if carry else new)
            carry = []
        if block and not body:
            body = [cst.SimpleStatementLine([cst.Pass()], leading_lines=carry)]
        return body

    # -- store parameters ----------------------------------------------------------------------------
    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> Any:
        if not any(s is original_node for s in self._module.body):
            return updated_node
        gone = {name for name, _ in self.removable.get(f"{self.context.full_module_name}.{original_node.name.value}", ())}
        if not gone:
            return updated_node
        p = updated_node.params
        new = {}
        for field in ("posonly_params", "params", "kwonly_params"):
            kept = [x for x in getattr(p, field) if x.name.value not in gone]
            if kept and len(kept) < len(getattr(p, field)) and getattr(p, field)[-1].name.value in gone:
                kept[-1] = kept[-1].with_changes(comma=getattr(p, field)[-1].comma)
            new[field] = kept
        self.migrated(original_node, f"removed store parameter(s) {', '.join(sorted(gone))}")
        return updated_node.with_changes(params=p.with_changes(**new))

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        dropped = self._dropped(original_node)
        if not dropped:
            return updated_node
        for i in dropped:
            value = original_node.args[i].value
            if not (isinstance(value, cst.Name) or (self.is_store(value) and _pure(value))):
                self.manual(original_node, "a store argument with side effects; drop it by hand")
                return updated_node
            self.remove_unused_import_by_node(value)
        args = [a for i, a in enumerate(updated_node.args) if i not in dropped]
        if args and len(updated_node.args) - 1 in dropped:
            args[-1] = args[-1].with_changes(comma=updated_node.args[-1].comma)
        self.migrated(original_node, "dropped the store argument")
        return updated_node.with_changes(args=args)

    @property
    def _module(self) -> cst.Module:
        return self._scopes[0]  # type: ignore[return-value]


class _NonCallNames(NoFieldVisits, cst.CSTVisitor):
    """Names used as values (not called, not defined, not imported, not a keyword or attribute name)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.Name] = []
        self._skip: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        self._skip.add(id(node.func))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._skip.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._skip.add(id(node.keyword))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._skip.add(id(node.name))

    def visit_Param(self, node: cst.Param) -> None:
        self._skip.add(id(node.name))

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._skip:
            self.found.append(node)


def _non_call_names(tree: cst.Module) -> list[cst.Name]:
    visitor = _NonCallNames()
    tree.visit(visitor)
    return visitor.found


def _pure(call: cst.Call) -> bool:
    """No call among the arguments (dropping the expression drops no side effect)."""
    return not any(m.findall(arg, m.Call()) for arg in call.args)


def _use(node: cst.CSTNode, parents: Any, function_of: Any) -> Any:
    """How a store parameter is used: "ok" (a record call that migrates), ("pass", callee, position,
    keyword) or "bad"."""
    parent = parents.get(node)
    if isinstance(parent, cst.Attribute) and parent.value is node:
        call = parents.get(parent)
        if isinstance(call, cst.Call) and call.func is parent and parent.attr.value in RECORD_CALLS:
            return "ok" if record_problem(call) is None else "bad"
        return "bad"
    if isinstance(parent, cst.Arg) and parent.value is node and not parent.star:
        call = parents.get(parent)
        callee = function_of(call.func) if isinstance(call, cst.Call) else None
        if callee:
            position = next(i for i, a in enumerate(call.args) if a is parent)
            return ("pass", callee, None if parent.keyword else position,
                    parent.keyword.value if parent.keyword else None)
    return "bad"


def _removable(facts: list[Any]) -> dict[str, list[tuple[str, int | None]]]:
    """Store parameters whose every use migrates (the greatest fixpoint over calls between functions)."""
    refs = {f[1] for f in facts if f[0] == "ref"}
    params_ = {(f[1], f[2]): (f[3], f[4]) for f in facts if f[0] == "param" and f[1] not in refs}
    by_position = {(fn, pos): name for (fn, name), (pos, _) in params_.items() if pos is not None}
    alive = set(params_)
    changed = True
    while changed:
        changed = False
        for key in sorted(alive):
            for use in params_[key][1]:
                if use == "ok":
                    continue
                if use != "bad":
                    _, callee, position, keyword = use
                    target = (callee, keyword) if keyword else (callee, by_position.get((callee, position), ""))
                    if target in alive:
                        continue
                alive.discard(key)
                changed = True
                break
    found: dict[str, list[tuple[str, int | None]]] = {}
    for fn, name in sorted(alive):
        found.setdefault(fn, []).append((name, params_[(fn, name)][0]))
    return found


def _record_call(node: cst.CSTNode | None) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in RECORD_CALLS
