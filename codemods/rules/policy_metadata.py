"""PolicyMetadata(**kw) -> dict(**kw): the metadata is a plain dict now (a value, not a store record)."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from codemods.analysis import Analysis
from codemods.edits import Edit
from codemods.rules._rule import Rule

OLD, NEW = "PolicyMetadata", "dict"
DICT_METHODS = frozenset(dir(dict))
MANUAL_REASON = "PolicyMetadata{what}: a dict has no attribute access; decide what replaces it"


class PolicyMetadata(Rule):
    NAME = "policy_metadata"
    DESCRIPTION = ("PolicyMetadata(k=v, **kw) -> dict(k=v, **kw) and PolicyMetadata.from_dict(d) -> dict(d), "
                   "unless the result's attributes are read (a dict has no attribute access) -> manual.")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        for call in a.walk.metadata_calls:
            attr = _attribute_read(a, call)
            if attr:
                yield self.manual(call, MANUAL_REASON.format(what=f" then .{attr}"))
            elif isinstance(call.func, cst.Attribute):  # PolicyMetadata.from_dict(d)
                if len(call.args) == 1 and not call.args[0].keyword:
                    yield self.replace(call, f"{OLD}.from_dict(d) -> {NEW}(d)", _to_dict)
            elif not any(not arg.keyword and arg.star != "**" for arg in call.args):
                yield self.replace(call, f"{OLD}(**kw) -> {NEW}(**kw)", _to_dict)


def _to_dict(updated: cst.Call) -> cst.Call:
    return updated.with_changes(func=cst.Name(NEW))


def _attribute_read(a: Analysis, call: cst.Call) -> str | None:
    """An attribute read on the result, directly or through the one name it is assigned to."""
    parent = a.parent(call)
    if isinstance(parent, cst.Attribute) and parent.value is call:
        return parent.attr.value
    if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name)):
        return None
    target = parent.targets[0].target
    scope = a.scopes.get(target)
    if scope is None:
        return None
    for access in scope.accesses[target.value]:
        used = a.parent(access.node)
        if isinstance(used, cst.Attribute) and used.value is access.node and used.attr.value not in DICT_METHODS:
            return used.attr.value
    return None
