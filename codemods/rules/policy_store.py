"""PolicyStore calls that select checkpoints of a file path become tinyckpt calls."""

from __future__ import annotations

from typing import Any

import libcst as cst

from codemods.rules._dataflow import STORE_MANUAL, Graph
from codemods.rules._flowrule import FlowRule
from codemods.rules._producers import replacement
from codemods.rules._quick import mentions
from codemods.rules._solution import Solution

# store call -> tinyckpt call (only for file paths / file:// URIs and the "latest" / "all" selectors)
STORE_CALLS = {
    "policy_record": "latest_checkpoint(uri)",
    "load_from_uri": "latest_checkpoint(uri)",
    'policy_records(selector_type="all")': "list_checkpoints(uri)",
    'policy_records(selector_type="latest")': "[latest_checkpoint(uri)]",
}
LATER_IMPORTS = ("policy", "run_name", "epoch")  # uses policy_records rewrites (torch / parse_checkpoint_path)
MISSING_ERROR = "FileNotFoundError"  # what latest_checkpoint raises where PolicyMissingError was raised
MISSING_REASON = "PolicyMissingError: tinyckpt raises FileNotFoundError; decide what this handler catches"


class PolicyStoreCalls(FlowRule):
    NAME = "policy_store"
    DESCRIPTION = ("store.policy_record(uri) / load_from_uri(uri) -> latest_checkpoint(uri); policy_records(uri, "
                   "selector_type='all'/'latest') -> list_checkpoints(uri) / [latest_checkpoint(uri)], where the "
                   "records' whole unit becomes paths; except PolicyMissingError -> FileNotFoundError around them; "
                   "top/rand/metric/stats selectors, wandb:// and pytorch:// URIs, save and wandb uploads -> manual.")

    NEEDLES = True  # once is enough: the graph is the same for every flow rule

    def relevant(self, own: Graph, solution: Solution, tree: cst.Module) -> bool:
        return any(op[0] in ("producer", "manual_call") for op in own.ops) or \
            mentions(tree, self.config, ("PolicyMissingError",))

    def prepare(self) -> None:
        s, flow = self.solution, self.flow
        self._calls: dict[int, tuple[cst.BaseExpression, str, str]] = {}
        for key, call, method, _ in flow.producers:
            if method != "from_key_and_version" and s.migrates(key):
                new, name = replacement(call, method)
                self._calls[id(call)] = (new, name, f"store.{method}(...) -> {name}(...)")
        for unit in s.legacy_units:
            for kind, reason, site in s.blockers.get(unit, []):
                node = self.site_node(site)
                if kind == "block" and node is not None:
                    self.manual_later(node, reason)
        for receiver, method, site in s.manual_calls:
            node = self.site_node(site)
            if node is not None and s.has(receiver, "store"):
                self.manual_later(node, STORE_MANUAL[method])
        self._missing_ok = self._missing_handlers()
        # the imports the later rules of the family need here, added in the same pass (one import block)
        self._later = {("torch", None) if attr == "policy" else (self.config.target, "parse_checkpoint_path")
                       for key, _, attr, _ in flow.uses if attr in LATER_IMPORTS and s.is_record(key) and s.migrates(key)}

    def _missing_handlers(self) -> dict[int, bool]:
        """except PolicyMissingError around store calls: True when they all became latest_checkpoint (the
        handler then catches FileNotFoundError), False when only some did (manual); absent when none did."""
        seen: dict[int, list[bool]] = {}
        for key, call, method, _ in self.flow.producers:
            node: Any = call
            while node is not None and not isinstance(node, cst.Try):
                node = self.flow.parents.get(node)
            if node is None:
                continue
            for handler in node.handlers:
                if handler.type is not None and self.flow.legacy(handler.type) == "PolicyMissingError":
                    latest = method in ("policy_record", "load_from_uri") and id(call) in self._calls
                    seen.setdefault(id(handler), []).append(latest if id(call) in self._calls else None)
        found = {}
        for handler, states in seen.items():
            if any(state is not None for state in states):
                found[handler] = all(states)
        return found

    # -- rewriting ------------------------------------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        if id(original_node) in self._calls:
            new, name, message = self._calls[id(original_node)]
            self.add_needed_import(self.config.target, name)
            for module, obj in sorted(self._later, key=str):
                self.add_needed_import(module, obj)
            self.migrated(original_node, message)
            return new.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)
        return updated_node

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if self._missing_ok.get(id(node)):
            self._rewritten_handler = node.type

    def visit_Name(self, node: cst.Name) -> None:
        self._missing_reference(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._missing_reference(node)

    def _missing_reference(self, node: cst.BaseExpression) -> None:
        """Any other PolicyMissingError: what it catches or raises is a person's decision now."""
        if node is not getattr(self, "_rewritten_handler", None) and self.flow.legacy(node) == "PolicyMissingError":
            self.manual(node, MISSING_REASON)

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler) -> Any:
        if not self._missing_ok.get(id(original_node)):
            return updated_node
        self.migrated(original_node, f"except PolicyMissingError -> except {MISSING_ERROR}")
        return updated_node.with_changes(type=cst.Name(MISSING_ERROR))
