"""Record attributes become path operations, where the record's whole unit becomes a checkpoint path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.graph import K
from codemods.analysis.values import ISINSTANCE_REASON
from codemods.edits import Edit
from codemods.rules._rule import Rule, held_back

# record attribute -> what it becomes on the path `x`
RECORD_USES = {
    "policy": "torch.load(x, weights_only=False)",
    "uri": "x",
    "file_path": "x",
    "run_name": "parse_checkpoint_path(x)[0]",
    "metadata.epoch": "parse_checkpoint_path(x)[1]",
    'metadata["epoch"]': "parse_checkpoint_path(x)[1]",
}
_PARSED = {"run_name": 0, "epoch": 1}
ISINSTANCE_PREFIX = ISINSTANCE_REASON.partition("{")[0]


class PolicyRecords(Rule):
    NAME = "policy_records"
    DESCRIPTION = ("A record is its checkpoint path: pr.policy -> torch.load(pr, weights_only=False), pr.uri / "
                   "pr.file_path -> pr, pr.run_name / pr.metadata.epoch -> parse_checkpoint_path(pr)[0] / [1], "
                   "followed through assignments, calls, returns, containers, self attributes and fixtures; "
                   "other metadata and uses that cannot be followed -> manual (the whole unit stays a record).")
    HALF = False  # the half state's wrappers are simple_policy_store's

    def plan(self, a: Analysis) -> Iterable[Edit]:
        s = a.solution
        for key, node, attr, _ in a.walk.uses:
            if s.is_record(key) and s.migrates(key) and s.is_half(key) == self.HALF:
                yield self.replace(node, self.message(attr), lambda updated, at=attr: path_use(updated, at),
                                   imports=use_imports(a, attr))
        for node, reason, kind, holds in held_back(a, self.NAME, "record", half=self.HALF):
            if not reason.startswith(ISINSTANCE_PREFIX):  # typing_cast reports those
                text = reason if kind == K.RBLOCK else f"a record {reason}; it stays a record"
                yield self.manual(node, text + holds)

    @staticmethod
    def message(attr: str) -> str:
        return f"record .{attr} -> path"


def use_imports(a: Analysis, attr: str) -> list[tuple[str, str | None]]:
    if attr == "policy":
        return [("torch", None)]
    if attr in _PARSED:
        return [(a.config.target, "parse_checkpoint_path")]
    return []


def path_use(updated: Any, attr: str) -> cst.BaseExpression:
    """What a record use (`x.policy`, `x.uri`, `x.metadata.epoch`, `x.metadata["epoch"]`) becomes on the path `x`."""
    base = updated.value.value if attr == "epoch" else updated.value
    parens = (updated.lpar, updated.rpar)
    if isinstance(base, cst.IfExp) and attr == "policy" or attr in _PARSED:  # an argument: needs no parentheses
        base = base.with_changes(lpar=[], rpar=[]) if isinstance(base, cst.IfExp) else base
    if attr == "policy":
        weights = cst.Arg(cst.Name("False"), keyword=cst.Name("weights_only"),
                          equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        new: cst.BaseExpression = cst.Call(cst.Attribute(cst.Name("torch"), cst.Name("load")),
                                           [cst.Arg(base), weights])
    elif attr in _PARSED:
        new = cst.Subscript(cst.Call(cst.Name("parse_checkpoint_path"), [cst.Arg(base)]),
                            [cst.SubscriptElement(cst.Index(cst.Integer(str(_PARSED[attr]))))])
    else:
        return base.with_changes(lpar=parens[0], rpar=parens[1]) if parens[0] and not base.lpar else base
    return new.with_changes(lpar=parens[0], rpar=parens[1])
