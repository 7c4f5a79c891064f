"""A cheap first look at a module, before any metadata: does its text mention a name at all?"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

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
