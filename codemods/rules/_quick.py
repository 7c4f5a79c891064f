"""Matching helpers: a cheap first look at a module's text, and a strict legacy-name match."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst
from libcst.metadata import QualifiedNameProvider, QualifiedNameSource

from codemods.config import Config

_LAST: dict[str, object] = {}


def mentions(tree: cst.Module, config: Config, classes: Iterable[str]) -> bool:
    """True when the module's code spells a name that `config` maps to one of the legacy `classes`
    (the code is generated once per tree). False means: no rule about those classes has work here."""
    wanted = set(classes)
    names = {qn.rpartition(".")[2] for qn, cls in config.legacy_names.items() if cls in wanted}
    if _LAST.get("tree") is not tree:
        _LAST.update(tree=tree, code=tree.code)
    code = _LAST["code"]
    assert isinstance(code, str)
    return any(name in code for name in names)


def legacy_only(rule: Any, node: cst.CSTNode) -> str | None:
    """`rule.legacy_class(node)`, but None when the name may also be a local definition (a legacy import
    rebound in the module by a class, function or assignment is not the legacy class any more)."""
    found = rule.get_metadata(QualifiedNameProvider, node, set())
    if any(q.source is QualifiedNameSource.LOCAL for q in found):
        return None
    return rule.legacy_class(node)
