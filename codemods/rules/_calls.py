"""What a call produces, for the value graph (`_dataflow`): records, stores, in-tree results, copies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from codemods.rules._dataflow import (
    HARMLESS,
    LOG_METHODS,
    MOCKS,
    PATH_CONSUMERS,
    PATH_PRODUCERS,
    PATH_TAG,
    PRODUCER_METHODS,
    RECORD_CLASSES,
    SEQUENCE_COPIES,
    STORE_CLASS,
    STORE_MANUAL,
    code,
)
from codemods.rules._producers import producer_problem

if TYPE_CHECKING:
    from codemods.rules._dataflow import Builder

_CONTAINER_CALLS = ("items", "keys", "values", "get", "copy", "append", "extend")


def classify_call(b: Builder, call: cst.Call) -> str | None:
    """The key of the call's value (None: not a value we follow); records the call's flows."""
    func = call.func
    legacy = b.legacy(func)
    q = b.qualified(func)
    owner = b.legacy(func.value) if isinstance(func, cst.Attribute) else None
    attr = func.attr.value if isinstance(func, cst.Attribute) else None
    if legacy == STORE_CLASS or (owner == STORE_CLASS and attr == "create"):
        b.handled_calls.add(id(call))
        s = b.site(call, "store")
        b.fact(s, "store", "PolicyStore(...)")
        return s
    if owner == "MockPolicyRecord" and attr == "from_key_and_version":
        b.handled_calls.add(id(call))
        s = b.site(call, "mock")
        b.fact(s, "rec", "MockPolicyRecord.from_key_and_version")
        if len(call.args) != 2 or any(a.star or a.keyword for a in call.args):
            b.fact(s, "block", "MockPolicyRecord.from_key_and_version with unusual arguments", call)
        b.producers.append((s, call, "from_key_and_version", ""))
        return s
    if (owner in RECORD_CLASSES and attr == "__new__") or legacy in RECORD_CLASSES:
        b.handled_calls.add(id(call))
        s = b.site(call, "built")
        b.fact(s, "rec", "built by hand")
        b.fact(s, "block", f"{owner or legacy} built by hand; decide where its checkpoint lives", call)
        return s
    if q in PATH_PRODUCERS:
        s = b.site(call, "path")
        if PATH_PRODUCERS[q] == "list":
            b.fact(s, "list")
            b.fact(b.child(s, "[]"), "rec", PATH_TAG + q)
        else:
            b.fact(s, "rec", PATH_TAG + q)
        return s
    if q == "typing.cast" and len(call.args) == 2:
        b.handled_calls.add(id(call))
        return b.classify(call.args[1].value)
    if q in MOCKS:
        s = b.site(call, "double")
        b.fact(s, "mock", code(call))
        return s
    if q in HARMLESS or q in PATH_CONSUMERS or (attr in LOG_METHODS and q is None):
        return None
    if q in SEQUENCE_COPIES and call.args:
        b.handled_calls.add(id(call))
        inner = b.classify(call.args[0].value)
        _key_lambdas(b, call, inner)
        if not inner:
            return None
        s = b.site(call, "copy")
        b.fact(s, "list")
        b.union(b.child(s, "[]"), b.child(inner, "[]"))
        return s
    if q in ("builtins.max", "builtins.min") and call.args and not call.args[0].keyword:
        b.handled_calls.add(id(call))
        inner = b.classify(call.args[0].value)
        _key_lambdas(b, call, inner)
        return b.child(inner, "[]") if inner else None
    if q in ("builtins.enumerate", "builtins.zip") and call.args:
        b.handled_calls.add(id(call))
        s = b.site(call, "zip")
        b.fact(s, "list")
        element = b.child(s, "[]")
        sources: list[cst.BaseExpression | None] = [a.value for a in call.args if not a.keyword]
        if q == "builtins.enumerate":
            sources = [None, sources[0]]
        for i, source in enumerate(sources):
            inner = b.classify(source) if source is not None else None
            if inner:
                b.union(b.child(element, f"({i})"), b.child(inner, "[]"))
        return s
    if isinstance(func, cst.Attribute):
        return _method_call(b, call, func)
    if q and not q.startswith("builtins."):
        b.handled_calls.add(id(call))
        s = b.site(call, "call")
        b.graph.ops.append(("call", q, b.args(call.args), s, False, s))
        return s
    return None


def _method_call(b: Builder, call: cst.Call, func: cst.Attribute) -> str | None:
    attr = func.attr.value
    receiver = b.classify(func.value)
    if attr in PRODUCER_METHODS:
        return _producer(b, call, receiver, attr)
    if attr in STORE_MANUAL and receiver:
        b.graph.ops.append(("manual_call", receiver, attr, b.site(call, "storecall")))
    if attr == "submit" and call.args and not call.args[0].keyword:
        target = b.qualified(call.args[0].value)
        if target and not target.startswith("builtins."):
            b.handled_calls.add(id(call))
            s = b.site(call, "future")
            b.graph.ops.append(("call", target, b.args(call.args[1:]), b.child(s, ".result"), False, s))
            return s
    if attr in LOG_METHODS:
        return None
    self_name = b.funcs[-1][2] if b.funcs else None
    if isinstance(func.value, cst.Name) and self_name and func.value.value == self_name:
        b.handled_calls.add(id(call))
        s = b.site(call, "call")
        b.graph.ops.append(("call", f"{b.funcs[-1][1]}.{attr}", b.args(call.args), s, True, s))
        return s
    q = b.qualified(func)
    if receiver is None:
        if q and not q.startswith("builtins."):  # Class.static_method(...), module.function(...)
            b.handled_calls.add(id(call))
            s = b.site(call, "call")
            b.graph.ops.append(("call", q, b.args(call.args), s, False, s))
            return s
        return None
    if attr == "result" and not call.args:
        b.handled_calls.add(id(call))
        return b.child(receiver, ".result")
    if attr in _CONTAINER_CALLS:
        return _container_call(b, call, receiver, attr)
    b.handled_calls.add(id(call))
    s = b.site(call, "mcall")
    b.graph.ops.append(("mcall", receiver, attr, b.args(call.args), s, s))
    return s


def _container_call(b: Builder, call: cst.Call, receiver: str, attr: str) -> str | None:
    b.handled_calls.add(id(call))
    if attr == "append" and call.args:
        b.value_into(b.child(receiver, "[]"), call.args[0].value)
        return None
    if attr == "extend" and call.args:
        inner = b.classify(call.args[0].value)
        if inner:
            b.union(b.child(receiver, "[]"), b.child(inner, "[]"))
        else:
            b.fact(b.child(receiver, "[]"), "unk", f"extended from {code(call.args[0].value)}", call)
        return None
    if attr in ("keys", "copy"):
        return receiver
    s = b.site(call, attr)
    if attr == "values":
        b.union(b.child(s, "[]"), b.child(receiver, "{v}"))
    elif attr == "items":
        element = b.child(s, "[]")
        b.union(b.child(element, "(0)"), b.child(receiver, "[]"))
        b.union(b.child(element, "(1)"), b.child(receiver, "{v}"))
    else:  # get
        b.union(s, b.child(receiver, "{v}"))
    return s


def _key_lambdas(b: Builder, call: cst.Call, inner: str | None) -> None:
    for arg in call.args:
        if arg.keyword and arg.keyword.value == "key" and isinstance(arg.value, cst.Lambda):
            params = arg.value.params.params
            if params and inner:
                b.union(b.var_key(params[0].name), b.child(inner, "[]"))


def _producer(b: Builder, call: cst.Call, receiver: str | None, method: str) -> str:
    """A store call that selects records. It counts as one only when the receiver is a PolicyStore
    (decided in `solve`); a method of the same name on anything else is left alone."""
    b.handled_calls.add(id(call))
    s = b.site(call, "producer")
    problem = producer_problem(call, method)
    if problem:
        b.fact(s, "block", problem, call)
    if method == "policy_records":
        b.fact(s, "list")
    b.graph.ops.append(("producer", s, receiver or "", method))
    for arg in call.args:
        b.classify(arg.value)
    b.producers.append((s, call, method, receiver or ""))
    return s
