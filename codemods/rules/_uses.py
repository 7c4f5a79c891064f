"""How an expression's parent uses a followed value: understood, a record attribute, or an escape.

`judge` returns None for a use the migration understands (a binding the graph already has, a
comparison, a truth test, an f-string, a record attribute with a counterpart) and otherwise the fact
to record: `rblock` (a record use with no counterpart), `esc` (the value leaves what the tool can
follow), `attr` (another attribute, judged by kind in `solve`). It also records, for names, how each
occurrence uses a store (`Graph.occurrences`), so a store parameter goes only when every use goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libcst as cst
from libcst.metadata import ExpressionContext

from codemods.rules._base import NoFieldVisits
from codemods.rules._dataflow import (
    HARMLESS,
    LOG_METHODS,
    PATH_CONSUMERS,
    PRODUCER_METHODS,
    RECORD_ATTRS,
    code,
    literal_str,
)

if TYPE_CHECKING:
    from codemods.rules._dataflow import Builder

ISINSTANCE_REASON = "records are checkpoint path strings now; decide what this {cls} type check becomes"
_UNDERSTOOD = (cst.Element, cst.DictElement, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp,
               cst.BooleanOperation, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Return, cst.For, cst.CompFor,
               cst.WithItem, cst.NamedExpr, cst.Expr, cst.Comparison, cst.ComparisonTarget, cst.UnaryOperation,
               cst.If, cst.While, cst.Assert, cst.FormattedStringExpression, cst.Index, cst.Del, cst.Lambda,
               cst.IfExp, cst.Subscript)


def judge(b: Builder, node: cst.BaseExpression, key: str) -> tuple[str, str] | None:
    parent = b.parents.get(node)
    if isinstance(node, (cst.Name, cst.Attribute)):
        _occurrence(b, node, key, parent)
    if isinstance(parent, cst.Attribute) and parent.value is node:
        return _attribute(b, node, key, parent)
    if isinstance(parent, cst.Arg):
        call = b.parents.get(parent)
        if isinstance(call, cst.Call) and id(call) in b.handled_calls:
            return None
        return _argument(b, call, parent) if isinstance(call, cst.Call) else ("esc", "argument")
    if isinstance(parent, cst.StarredElement):
        return ("esc", "unpacked with *")
    if isinstance(parent, _UNDERSTOOD):
        return None
    if isinstance(parent, cst.Call) and parent.func is node:
        return ("esc", "called")
    return ("esc", f"used in a {type(parent).__name__}")


def _attribute(b: Builder, node: cst.BaseExpression, key: str, parent: cst.Attribute) -> tuple[str, str] | None:
    attr = parent.attr.value
    grand = b.parents.get(parent)
    called = isinstance(grand, cst.Call) and grand.func is parent
    loaded = b.contexts.get(parent) is ExpressionContext.LOAD
    if attr in RECORD_ATTRS and not called:
        if not loaded:
            return ("rblock", f"assigns .{attr} on a record; decide how this checkpoint is written")
        _use(b, key, parent, attr, node)
        return None
    if attr == "metadata" and not called:
        if isinstance(grand, cst.Attribute) and grand.attr.value == "epoch" and b.contexts.get(grand) is ExpressionContext.LOAD:
            _use(b, key, grand, "epoch", node)
            return None
        if isinstance(grand, cst.Subscript) and _subscript_key(grand) == "epoch" and b.contexts.get(grand) is ExpressionContext.LOAD:
            _use(b, key, grand, "epoch", node)
            return None
        shown = code(grand if isinstance(grand, (cst.Attribute, cst.Subscript)) else parent)
        return ("rblock", f"{shown}: only the run name and epoch are in a checkpoint path; decide where this value comes from")
    if called and (attr in PRODUCER_METHODS or id(grand) in b.handled_calls):
        return None
    return ("attr", attr)


def _use(b: Builder, key: str, node: cst.CSTNode, attr: str, base: cst.BaseExpression) -> None:
    b.uses.append((key, node, attr, base))
    b.fact(key, "use", attr)


def _subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return literal_str(node.slice[0].slice.value)
    return None


def _argument(b: Builder, call: cst.Call, arg: cst.Arg) -> tuple[str, str] | None:
    q = b.qualified(call.func) or ""
    if q == "builtins.isinstance":
        if call.args and call.args[0] is arg and len(call.args) == 2:
            legacy = b.legacy(call.args[1].value)
            if legacy:
                if isinstance(arg.value, cst.Name):
                    param = _param_key(b, arg.value)
                    if param and _only_narrowed(b, call, arg.value.value):
                        b.fact(param, "dispatch", "isinstance check")
                return ("rblock", ISINSTANCE_REASON.format(cls=legacy))
        return None
    if q in HARMLESS or q in PATH_CONSUMERS or any(q.startswith(h + ".") for h in ("pytest.approx",)):
        return None
    if isinstance(call.func, cst.Attribute) and call.func.attr.value in LOG_METHODS:
        return None
    return ("esc", f"passed to {code(call.func, 40)}(), which this tool cannot follow")


def _only_narrowed(b: Builder, check: cst.Call, name: str) -> bool:
    """`if isinstance(name, Record):` in a function that reads attributes of `name` only in that branch
    (the function takes records or other values and tells them apart itself)."""
    test = b.parents.get(check)
    if not isinstance(test, cst.If) or test.test is not check:
        return False
    function: Any = test
    while function is not None and not isinstance(function, cst.FunctionDef):
        function = b.parents.get(function)
    if function is None:
        return False
    inside: set[int] = set()

    class _Mark(NoFieldVisits, cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            inside.add(id(node))
    test.body.visit(_Mark())
    outside: list[cst.Attribute] = []

    class _Find(NoFieldVisits, cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if isinstance(node.value, cst.Name) and node.value.value == name and id(node) not in inside:
                outside.append(node)
    function.body.visit(_Find())
    return not outside


def _param_key(b: Builder, name: cst.Name) -> str | None:
    """`p:<function>:<name>` when `name` is a parameter of the enclosing function."""
    if not b.funcs or not b.funcs[-1][0]:
        return None
    key = b.var_key(name)
    q = b.funcs[-1][0]
    return f"p:{q}:{name.value}" if key == f"v:{q}:{name.value}" and q in b.graph.sigs and \
        name.value in b.graph.sigs[q][0] else None


def _occurrence(b: Builder, node: cst.BaseExpression, key: str, parent: cst.CSTNode | None) -> None:
    """How this occurrence of a name uses a store (see `Solution._stores`)."""
    how, detail = "other", ""
    if isinstance(parent, cst.Attribute) and parent.value is node:
        grand = b.parents.get(parent)
        if isinstance(grand, cst.Call) and grand.func is parent and parent.attr.value in PRODUCER_METHODS:
            how = "recv"
    elif isinstance(parent, cst.Arg):
        how, detail = "arg", b.site(parent, "arg")
    elif isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is node:
        targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
        tk = b.target_key(targets[0]) if len(targets) == 1 else None
        how, detail = ("assign", tk) if tk else ("other", "")
    elif isinstance(parent, cst.Return) and b.funcs and b.funcs[-1][0]:
        how, detail = "assign", f"r:{b.funcs[-1][0]}"
    b.graph.occurrences.append((key, how, detail))
