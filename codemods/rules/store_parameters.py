"""A PolicyStore nothing legacy needs any more goes: its construction, parameters, arguments and fixtures."""

from __future__ import annotations

from typing import Any

import libcst as cst

from codemods.rules._dataflow import MOCKS, Graph
from codemods.rules._edits import drop_args, drop_params, removable_value
from codemods.rules._flowrule import FlowRule
from codemods.rules._solution import Solution

# what goes once every use of the store went with the migration (judged over the whole tree)
REMOVED = ("store = PolicyStore(...) / PolicyStore.create(...)", "def f(..., policy_store, ...)",
           "f(..., store, ...)", "self.policy_store = policy_store", "@pytest.fixture def policy_store(): ...")


class StoreParameters(FlowRule):
    NAME = "store_parameters"
    DESCRIPTION = ("Store plumbing removed once nothing legacy needs the store: " + "; ".join(REMOVED) +
                   ". Runs after the store calls were rewritten; decided on the whole tree as it was, so every "
                   "caller drops exactly the arguments its callee drops.")
    ORIGINAL_GRAPHS = True

    def relevant(self, own: Graph, solution: Solution, tree: cst.Module) -> bool:
        """A store here, or an argument for a store parameter that goes."""
        keys = {k for k, *_ in own.facts} | {k for pair in own.unions for k in pair}
        if any(solution.has(k, "store") for k in keys):
            return True
        return any(param and self._goes_in(solution, param) for op in own.ops for param in _arg_params(solution, op).values())

    def _goes_in(self, solution: Solution, key: str) -> bool:
        return solution.store_removable(key) and solution.param_removable(key)

    def prepare(self) -> None:
        s, flow = self.solution, self.flow
        self._params = {id(p) for key, p, _ in flow.params if self._goes(key)}
        self._args: set[int] = set()
        for op in flow.graph.ops:
            for site, param in _arg_params(s, op).items():
                if param and self._goes(param):
                    self._args.add(id(flow.nodes[site]))
        self._drop = {id(stmt) for key, stmt, value in flow.assigns
                      if s.store_removable(key) and self._plain(stmt, value)}
        self._fixtures = {id(d) for q, d in flow.fixture_defs.items()
                          if s.store_removable(f"r:{q}") and _returns_only(d)}

    def _goes(self, key: str) -> bool:
        return bool(key) and self._goes_in(self.solution, key)

    def _plain(self, stmt: cst.CSTNode, value: cst.BaseExpression) -> bool:
        """One assignment of a store construction, or of a store that goes too (never a lone alias)."""
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            return False
        if self._store_source(value):
            return True
        source = self.flow.classify(value)
        return removable_value(value) and bool(source) and self.solution.store_removable(source)

    def _store_source(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        func = value.func
        if self.flow.legacy(func) == "PolicyStore" or self.flow.qualified(func) in MOCKS:
            return True
        return isinstance(func, cst.Attribute) and func.attr.value == "create" and \
            self.flow.legacy(func.value) == "PolicyStore"

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        gone = [a for a in original_node.args if id(a) in self._args]
        for arg in gone:
            self.migrated(arg, "store argument removed")
            q = self.flow.qualified(arg.value.func) if isinstance(arg.value, cst.Call) else None
            if q in MOCKS:
                module, _, name = q.rpartition(".")
                self.remove_unused_import(module, name)
        return drop_args(updated_node, original_node, self._args) if gone else updated_node

    def leave_Parameters(self, original_node: cst.Parameters, updated_node: cst.Parameters) -> Any:
        gone = [p for p in [*original_node.params, *original_node.kwonly_params] if id(p) in self._params]
        for param in gone:
            self.migrated(param, f"store parameter {param.name.value} removed")
        return drop_params(updated_node, original_node, self._params) if gone else updated_node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: Any) -> Any:
        if id(original_node) in self._drop:
            self.migrated(original_node, "store no longer needed: statement removed")
            return cst.RemoveFromParent()
        return updated_node

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> Any:
        if id(original_node) in self._fixtures:
            self.migrated(original_node, f"store fixture {original_node.name.value} removed")
            return cst.RemoveFromParent()
        return updated_node


def _arg_params(s: Solution, op: tuple[Any, ...]) -> dict[str, str]:
    """arg site -> parameter key for one call op of this file (as the whole-tree solution maps it)."""
    if op[0] == "call":
        _, callee, args, _, bound, _ = op
        return s.map_args(callee, args, bound)[1]
    if op[0] == "mcall":
        _, receiver, attr, args, _, _ = op
        t = s.type_of(receiver)
        return s.map_args(f"{t}.{attr}", args, True)[1] if t else {}
    return {}


def _returns_only(fn: cst.FunctionDef) -> bool:
    """A fixture whose body is (a docstring and) one `return ...`: removable as a whole."""
    body = list(fn.body.body) if isinstance(fn.body, cst.IndentedBlock) else []
    if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) and \
            isinstance(body[0].body[0].value, cst.SimpleString):
        body = body[1:]
    return len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) and \
        isinstance(body[0].body[0], cst.Return)
