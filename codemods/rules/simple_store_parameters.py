"""Store plumbing of the half state: SimplePolicyStore variables, parameters and arguments go once unused."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.graph import K
from codemods.edits import Edit
from codemods.rules.store_parameters import StoreParameters

# what goes, once every use of the store went with the migration (decided over the whole tree,
# so every caller drops exactly the arguments its callee drops)
REMOVED = ("store = SimplePolicyStore(...) / SimplePolicyStore.create(...)", "def f(..., store: SimplePolicyStore)",
           "f(..., store, ...)")
SIDE_EFFECTS = "a store argument with side effects; drop it by hand"


class SimpleStoreParameters(StoreParameters):
    NAME = "simple_store_parameters"
    DESCRIPTION = ("Removed once unused: " + "; ".join(REMOVED) + " (a block left empty gets `pass`). A store "
                   "argument with side effects, or an unused store whose line cannot simply go -> manual.")
    KIND = K.SSTORE

    def param_edit(self, params: cst.Parameters, gone: Sequence[cst.Param]) -> Edit:
        edit = super().param_edit(params, gone)
        names = ", ".join(sorted(p.name.value for p in gone))
        edit.more, edit.report, edit.message = (), True, f"removed store parameter(s) {names}"
        edit.site = params
        return edit

    def arg_edits(self, a: Analysis, call: cst.Call, dropped: Sequence[cst.Arg]) -> Iterable[Edit]:
        if not all(isinstance(arg.value, cst.Name) or (_is_store(a, arg.value) and _pure(arg.value)) for arg in dropped):
            yield self.manual(call, SIDE_EFFECTS)
            return
        for edit in super().arg_edits(a, call, dropped):
            edit.more, edit.report, edit.message = (), True, "dropped the store argument"
            yield edit

    def statement_edits(self, a: Analysis) -> Iterable[Edit]:
        """`name = <store>` whose every use goes: its line goes too (comments kept for the next statement, a
        block left empty gets `pass`), or it is manual when that is no plain line deletion (decided over
        every binding of the name, so all of them go or none)."""
        s, walk = a.solution, a.walk
        removed: set[int] = set()
        for key, stmt, value in walk.assigns:
            if not (_is_store(a, value) and s.has(key, self.KIND) and s.store_removable(key)):
                continue
            small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
            target = _target(a, value)
            if target is None:
                continue
            scope = a.scopes.get(target)
            bindings = [asg.node for asg in scope.assignments[target.value]] if scope is not None else []
            if not all(_store_value(a, node) for node in bindings):
                continue  # the name holds something else too: not (only) the store
            lines = [_store_line(a, node) for node in bindings]
            if any(isinstance(line, str) for line in lines):
                own = _store_line(a, target)
                problem = own if isinstance(own, str) else "another binding of its name cannot simply go"
                yield self.manual(small or value, f"the store is not used any more, but {problem}; remove it by hand")
                continue
            for line in lines:
                if id(line) not in removed:
                    removed.add(id(line))
                    yield self.remove(line, "removed the store: nothing uses it any more", carry="all")


def _is_store(a: Analysis, node: cst.BaseExpression) -> bool:
    """`SimplePolicyStore(...)` or `SimplePolicyStore.create(...)`."""
    if isinstance(node, cst.Call):
        return a.legacy(node.func) == "SimplePolicyStore" or (
            isinstance(node.func, cst.Attribute) and node.func.attr.value == "create"
            and a.legacy(node.func.value) == "SimplePolicyStore")
    return False


def _pure(call: cst.Call) -> bool:
    """No call among the arguments (dropping the expression drops no side effect)."""
    class _Calls(cst.CSTVisitor):
        found = False

        def visit_Call(self, node: cst.Call) -> None:
            self.found = True
    finder = _Calls()
    for arg in call.args:
        arg.visit(finder)
    return not finder.found


def _target(a: Analysis, value: cst.BaseExpression) -> cst.Name | None:
    parent = a.parent(value)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
        return parent.targets[0].target
    if isinstance(parent, cst.AnnAssign) and isinstance(parent.target, cst.Name):
        return parent.target
    return None


def _store_value(a: Analysis, name: cst.CSTNode) -> bool:
    """The binding assigns a store construction (or is one we cannot judge, which `_store_line` reports)."""
    parent = a.parent(name)
    assign = a.parent(parent) if isinstance(parent, cst.AssignTarget) else parent
    if isinstance(assign, (cst.Assign, cst.AnnAssign)) and assign.value is not None:
        return _is_store(a, assign.value) or True
    return True


def _store_line(a: Analysis, name: cst.CSTNode) -> cst.SimpleStatementLine | str:
    """The line `name = <store>` that binds `name`, or why deleting a line would not remove just that."""
    parent = a.parent(name)
    assign = a.parent(parent) if isinstance(parent, cst.AssignTarget) else parent
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and assign.targets[0].target is name
            or isinstance(assign, cst.AnnAssign) and assign.target is name and assign.value is not None):
        return "its name is also bound another way"
    if not _is_store(a, assign.value):  # type: ignore[arg-type]
        return "its name is also assigned something else"
    if not _pure(assign.value):  # type: ignore[arg-type]
        return "building it calls code in its arguments (keep the side effects you need)"
    line = a.parent(assign)
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1):
        return "it is built on a line with other statements"
    return line
