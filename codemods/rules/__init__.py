"""The rules, in the order they run (the order matters: see the comment on each entry).

Each rule is one module of this package, named after what it rewrites; its class's `NAME` equals
the module name. The README's migration table and `fixtures/` name the same rules.
"""

from __future__ import annotations

from codemods.rules._base import LegacyRule

RULES: list[type[LegacyRule]] = [
    # (rules are registered here, in order, as they land)
]

__all__ = ["RULES", "LegacyRule"]
