"""Small, layout-keeping edits the rules share: drop arguments and parameters, keep commas right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import libcst as cst

T = TypeVar("T", cst.Arg, cst.Param)


def without(items: Sequence[T], drop: set[int]) -> list[T]:
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
    changes: dict = {"params": plain, "kwonly_params": kwonly}
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
