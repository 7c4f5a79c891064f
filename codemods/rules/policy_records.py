"""Record attributes become path operations, where the record's whole unit becomes a checkpoint path."""

from __future__ import annotations

from typing import Any

import libcst as cst

from codemods.rules._dataflow import Graph
from codemods.rules._flowrule import FlowRule
from codemods.rules._solution import Solution
from codemods.rules._uses import ISINSTANCE_REASON

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
_BLOCKING = ("rblock", "esc", "unk", "attr", "mock")


class PolicyRecords(FlowRule):
    NAME = "policy_records"
    DESCRIPTION = ("A record is its checkpoint path: pr.policy -> torch.load(pr, weights_only=False), pr.uri / "
                   "pr.file_path -> pr, pr.run_name / pr.metadata.epoch -> parse_checkpoint_path(pr)[0] / [1], "
                   "followed through assignments, calls, returns, containers, self attributes and fixtures; "
                   "other metadata and uses that cannot be followed -> manual (the whole unit stays a record).")

    def relevant(self, own: Graph, solution: Solution, tree: cst.Module) -> bool:
        """A record attribute read here, or a reason a unit stays a record."""
        here = f"s:{own.module}:"
        return any((kind == "use" and solution.is_legacy(key)) or (site.startswith(here) and kind in _BLOCKING)
                   for key, kind, _, site in own.facts)

    def prepare(self) -> None:
        s = self.solution
        self._uses: dict[int, str] = {}
        for key, node, attr, _ in self.flow.uses:
            if s.is_record(key) and s.migrates(key):
                self._uses[id(node)] = attr
        for unit in s.legacy_units:
            blockers = s.blockers.get(unit, [])
            if any(kind == "block" for kind, _, _ in blockers):
                continue  # the store/mock rules mark the call that keeps this unit a record
            for kind, reason, site in blockers:
                node = self.site_node(site)
                if node is not None and not reason.startswith(ISINSTANCE_PREFIX):  # typing_cast reports those
                    self.manual_later(node, reason if kind == "rblock" else f"a record {reason}; it stays a record")

    def _replace(self, original: cst.CSTNode, base: cst.BaseExpression, attr: str, parens: Any) -> Any:
        self.migrated(original, f"record .{attr} -> path")
        if attr == "policy":
            self.add_needed_import("torch")
            weights = cst.Arg(cst.Name("False"), keyword=cst.Name("weights_only"),
                              equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
            new: cst.BaseExpression = cst.Call(cst.Attribute(cst.Name("torch"), cst.Name("load")),
                                               [cst.Arg(base), weights])
        elif attr in _PARSED:
            self.add_needed_import(self.config.target, "parse_checkpoint_path")
            new = cst.Subscript(cst.Call(cst.Name("parse_checkpoint_path"), [cst.Arg(base)]),
                                [cst.SubscriptElement(cst.Index(cst.Integer(str(_PARSED[attr]))))])
        else:
            return base.with_changes(lpar=parens[0], rpar=parens[1]) if parens[0] and not base.lpar else base
        return new.with_changes(lpar=parens[0], rpar=parens[1])

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> Any:
        attr = self._uses.get(id(original_node))
        if attr is None:
            return updated_node
        base = updated_node.value.value if attr == "epoch" else updated_node.value
        return self._replace(original_node, base, attr, (updated_node.lpar, updated_node.rpar))

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> Any:
        attr = self._uses.get(id(original_node))
        if attr is None or not isinstance(updated_node.value, cst.Attribute):
            return updated_node
        return self._replace(original_node, updated_node.value.value, attr, (updated_node.lpar, updated_node.rpar))
