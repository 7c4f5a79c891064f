"""A PolicyStore nothing legacy needs any more goes: its construction, parameters, arguments and fixtures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.graph import CallOp, K, MethodCallOp
from codemods.analysis.shapes import calls_code
from codemods.analysis.solution import Solution
from codemods.analysis.values import MOCKS
from codemods.edits import Edit
from codemods.rules._rule import Rule

# what goes once every use of the store went with the migration (judged over the whole tree)
REMOVED = ("store = PolicyStore(...) / PolicyStore.create(...)", "def f(..., policy_store, ...)",
           "f(..., store, ...)", "self.policy_store = policy_store", "@pytest.fixture def policy_store(): ...")


IMPURE = ("the store is not used any more, but building it calls code in its arguments (keep the side effects you "
          "need); remove it by hand")


class StoreParameters(Rule):
    NAME = "store_parameters"
    DESCRIPTION = ("Store plumbing removed once nothing legacy needs the store: " + "; ".join(REMOVED) +
                   ". Decided on the whole tree, so every caller drops exactly the arguments its callee drops.")
    KIND = K.STORE  # the half state's SimplePolicyStore is simple_store_parameters'

    def goes(self, s: Solution, key: str) -> bool:
        return bool(key) and s.has(key, self.KIND) and s.store_removable(key) and s.param_removable(key)

    def plan(self, a: Analysis) -> Iterable[Edit]:
        s, walk = a.solution, a.walk
        params: dict[int, list[cst.Param]] = {}
        for key, param, fn in walk.params:
            if self.goes(s, key):
                params.setdefault(id(fn.params), []).append(param)
        for fn_params in {id(fn.params): fn.params for _, _, fn in walk.params}.values():
            gone = params.get(id(fn_params))
            if gone:
                yield self.param_edit(fn_params, gone)
        args: dict[int, tuple[cst.Call, list[cst.Arg]]] = {}
        for op in walk.graph.ops:
            for site, param in arg_params(s, op).items():
                if param and self.goes(s, param):
                    arg = walk.nodes[site]
                    call = a.parent(arg)
                    if isinstance(arg, cst.Arg) and isinstance(call, cst.Call):
                        args.setdefault(id(call), (call, []))[1].append(arg)
        for call, dropped in args.values():
            yield from self.arg_edits(a, call, dropped)
        yield from self.statement_edits(a)

    def param_edit(self, params: cst.Parameters, gone: Sequence[cst.Param]) -> Edit:
        drop = {id(p) for p in gone}
        return self.replace(params, "", lambda updated: drop_params(updated, params, drop), report=False,
                            more=[(p, f"store parameter {p.name.value} removed") for p in gone])

    def arg_edits(self, a: Analysis, call: cst.Call, dropped: Sequence[cst.Arg]) -> Iterable[Edit]:
        drop = {id(arg) for arg in dropped}
        yield self.replace(call, "", lambda updated: drop_args(updated, call, drop), report=False,
                           more=[(arg, "store argument removed") for arg in dropped])

    def statement_edits(self, a: Analysis) -> Iterable[Edit]:
        s, walk = a.solution, a.walk
        for key, stmt, value in walk.assigns:
            if s.has(key, self.KIND) and s.store_removable(key) and self._plain(a, stmt, value):
                if isinstance(value, cst.Call) and any(calls_code(arg.value) for arg in value.args):
                    yield self.manual(stmt, IMPURE)  # (removing it would drop what its arguments do)
                else:
                    yield self.remove(stmt, "store no longer needed: statement removed")
        for q, fn in walk.fixture_defs.items():
            if s.has(f"r:{q}", self.KIND) and s.store_removable(f"r:{q}") and _returns_only(fn):
                yield self.remove(fn, f"store fixture {fn.name.value} removed")

    def _plain(self, a: Analysis, stmt: cst.CSTNode, value: cst.BaseExpression) -> bool:
        """One assignment of a store construction, or of a store that goes too (never a lone alias)."""
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            return False
        block = a.parent(stmt)
        if isinstance(a.parent(block) if block is not None else None, cst.ClassDef):
            return False  # a class attribute: read as self.x / C.x, where this tool does not follow the store
        if self._store_source(a, value):
            return True
        source = a.walk.classify(value)
        return removable_value(value) and bool(source) and a.solution.store_removable(source)

    @staticmethod
    def _store_source(a: Analysis, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        func = value.func
        if a.legacy(func) == "PolicyStore" or (a.qualified(func) & MOCKS if isinstance(func, (cst.Name, cst.Attribute)) else False):
            return True
        return isinstance(func, cst.Attribute) and func.attr.value == "create" and a.legacy(func.value) == "PolicyStore"


def arg_params(s: Solution, op: Any) -> dict[str, str]:
    """arg site -> parameter key for one call op (as the whole-tree solution maps it)."""
    if isinstance(op, CallOp):
        return s.map_args(op.callee, op.args, op.bound)[1]
    if isinstance(op, MethodCallOp):
        method = s.method_of(op.receiver, op.attr)
        return s.map_args(method, op.args, True)[1] if method else {}
    return {}


def _returns_only(fn: cst.FunctionDef) -> bool:
    """A fixture whose body is (a docstring and) one `return ...`: removable as a whole."""
    body = list(fn.body.body) if isinstance(fn.body, cst.IndentedBlock) else []
    if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) and \
            isinstance(body[0].body[0].value, cst.SimpleString):
        body = body[1:]
    return len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) and \
        isinstance(body[0].body[0], cst.Return)


def without(items: Sequence[Any], drop: set[int]) -> list[Any]:
    """`items` minus those whose id is in `drop`; the new last item takes the old last's comma."""
    kept = [item for item in items if id(item) not in drop]
    if kept and items and kept[-1] is not items[-1]:
        kept[-1] = kept[-1].with_changes(comma=items[-1].comma)
    return kept


def drop_args(call: cst.Call, original: cst.Call, drop: set[int]) -> cst.Call:
    """`call` (updated) without the arguments whose ORIGINAL nodes are in `drop`."""
    ids = {id(new) for new, old in zip(call.args, original.args) if id(old) in drop}
    return call.with_changes(args=without(call.args, ids))


def drop_params(params: cst.Parameters, original: cst.Parameters, drop: set[int]) -> cst.Parameters:
    """`params` (updated) without the parameters whose ORIGINAL nodes are in `drop`."""
    def ids(new: Sequence[cst.Param], old: Sequence[cst.Param]) -> set[int]:
        return {id(n) for n, o in zip(new, old) if id(o) in drop}

    plain = without(params.params, ids(params.params, original.params))
    kwonly = without(params.kwonly_params, ids(params.kwonly_params, original.kwonly_params))
    changes: dict[str, Any] = {"params": plain, "kwonly_params": kwonly}
    if not kwonly and params.kwonly_params and isinstance(params.star_arg, cst.ParamStar):
        changes["star_arg"] = cst.MaybeSentinel.DEFAULT
        if plain:
            changes["params"] = [*plain[:-1], plain[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
    return params.with_changes(**changes)


def removable_value(node: cst.BaseExpression) -> bool:
    """A value that can be dropped without losing a side effect worth keeping."""
    if isinstance(node, (cst.Name, cst.SimpleString, cst.Integer)):
        return True
    if isinstance(node, cst.Attribute):
        return removable_value(node.value)
    return False
