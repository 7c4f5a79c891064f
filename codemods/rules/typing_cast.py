"""cast(PolicyRecord, x) -> x (a no-op at run time); isinstance(x, PolicyRecord) -> manual."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.values import ISINSTANCE_REASON, RECORD_CLASSES
from codemods.edits import Edit
from codemods.rules._rule import Rule

CASTS = ("typing.cast", "typing_extensions.cast")
# expressions that can stand where a call stood without parentheses
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.SimpleString, cst.List, cst.Dict, cst.Tuple)


class TypingCast(Rule):
    NAME = "typing_cast"
    DESCRIPTION = "typing.cast(PolicyRecord, x) -> x; isinstance(x, PolicyRecord) -> manual (a path is a str now), or isinstance(x, str) when decided."

    def plan(self, a: Analysis) -> Iterable[Edit]:
        calls = a.walk.calls
        for call in calls.get("builtins.isinstance", ()):
            if len(call.args) == 2:
                kind = call.args[1].value
                legacy = a.legacy(kind) or next((a.legacy(e.value) for e in getattr(kind, "elements", ())
                                                 if a.legacy(e.value)), None)
                key = a.walk.type_checks.get(id(call))
                if legacy in RECORD_CLASSES and key is not None and (not key or a.solution.migrates(key)):
                    yield self.replace(call.args[1].value, f"isinstance(x, {legacy}) -> isinstance(x, str) (decided)",
                                       lambda updated: cst.Name("str", lpar=updated.lpar, rpar=updated.rpar))
                    yield self.note(call, "TCK-M111 type-check = str: a record is its checkpoint path now (a plain "
                                          "str passes this check too)")
                elif legacy in RECORD_CLASSES:
                    yield self.manual(call, ISINSTANCE_REASON.format(cls=legacy))
        for call in (c for q in CASTS for c in calls.get(q, ())):
            if len(call.args) == 2 and not any(arg.keyword or arg.star for arg in call.args) and \
                    a.legacy(call.args[0].value) in RECORD_CLASSES:
                yield self.replace(call, f"cast({a.legacy(call.args[0].value)}, x) -> x", _uncast)


def _uncast(updated: Any) -> Any:
    value = updated.args[1].value
    if not isinstance(value, _ATOMS) and not value.lpar:
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return value.with_changes(lpar=[*updated.lpar, *value.lpar], rpar=[*value.rpar, *updated.rpar])
