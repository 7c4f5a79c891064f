"""What every rule is: a small planner over one `Analysis`.

A rule reads the analysis (which names are legacy, the value graph and its whole-tree verdicts, the
node lists the walk collected) and returns `Edit`s: a replacement, a removal, or a manual site. It
never walks the tree itself and never sees another rule's output: the engine applies every rule's
edits in one pass, then the imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import libcst as cst

from codemods.analysis import Analysis
from codemods.edits import Build, Edit, manual, note, remove, replace
from codemods.imports import Bindings


class Rule:
    """Base class of every rule. `NAME` equals the rule's module name; `DESCRIPTION` says what becomes what."""

    NAME: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""

    def plan(self, a: Analysis) -> Iterable[Edit]:
        """The edits of this rule for one file (planned on the original tree)."""
        return ()

    def plan_imports(self, a: Analysis, bindings: Bindings) -> Iterable[Edit]:
        """More import edits, once the content edits are applied (decisions go through `bindings`)."""
        return ()

    @classmethod
    def facts(cls, a: Analysis) -> dict[str, list[Any]]:
        """Cross-file facts this rule needs from every file (picklable), by index section."""
        return {}

    # -- edits of this rule -------------------------------------------------------------------------------
    def replace(self, node: cst.CSTNode, message: str, build: Build, *, imports: Sequence[tuple[str, str | None]] = (),
                site: cst.CSTNode | None = None, report: bool = True,
                more: Sequence[tuple[cst.CSTNode, str]] = ()) -> Edit:
        return replace(node, self.NAME, message, build, imports=imports, site=site, report=report, more=more)

    def manual(self, node: cst.CSTNode, reason: str) -> Edit:
        return manual(node, self.NAME, reason)

    def note(self, node: cst.CSTNode, text: str) -> Edit:
        return note(node, self.NAME, text)

    def remove(self, stmt: cst.CSTNode, message: str, *, carry: str = "blank", report: bool = True) -> Edit:
        return remove(stmt, self.NAME, message, carry=carry, report=report)


def paren(new: cst.BaseExpression, old: Any, bare: bool = False) -> cst.BaseExpression:
    """`new` standing where `old` stood, keeping `old`'s parentheses (or `new`'s own, when `old` has none and
    the place is not `bare`: a whole assigned or returned value, or an argument, needs none)."""
    return new.with_changes(lpar=old.lpar, rpar=old.rpar) if old.lpar or not new.lpar or bare else new


def bare_place(a: Analysis, node: cst.CSTNode) -> bool:
    """Whether an expression at `node`'s place needs no parentheses of its own (a whole value or argument)."""
    parent = a.parent(node)
    return isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return, cst.Arg)) and getattr(parent, "value", None) is node


def held_back(a: Analysis, rule: str, family: str = "", half: bool | None = None) \
        -> Iterable[tuple[cst.CSTNode, str, str, str]]:
    """(node, reason, kind, what it holds back) of the sites of THIS file that keep a unit legacy and that `rule` reports: the
    `block:<rule>` ones, and, for `family` ("record" / "manager"), the other reasons of units that no
    block holds back already (`half`: only in units of that flavour; the wording follows the flavour)."""
    from codemods.analysis.graph import block, render

    s = a.solution
    mine = block(rule)
    for unit in s.legacy_units:
        blockers = s.blockers.get(unit, [])
        blocked = any(kind.startswith("block:") for kind, *_ in blockers)
        flavour = unit in s.half_units
        for kind, reason, site, fam in blockers:
            node = a.node_of(site)
            if node is None:
                continue
            if kind == mine:
                yield node, reason, kind, s.holding_back(unit, site)
            elif family and fam == family and not blocked and (half is None or half == flavour):
                yield node, render(reason, flavour), kind, s.holding_back(unit, site)
