"""MockPolicyRecord.from_key_and_version(k, v) -> checkpoint_path(k, v): the checkpoint of run k at epoch v."""

from __future__ import annotations

from typing import Any

import libcst as cst

from codemods.rules._dataflow import Graph
from codemods.rules._flowrule import FlowRule
from codemods.rules._solution import Solution

OLD, NEW = "MockPolicyRecord.from_key_and_version", "checkpoint_path"


class MockPolicyRecordRule(FlowRule):
    NAME = "mock_policy_record"
    DESCRIPTION = ("MockPolicyRecord.from_key_and_version(key, version) -> checkpoint_path(key, version), where "
                   "the mock's whole unit becomes paths (otherwise it stays, and the reason is marked).")

    def relevant(self, own: Graph, solution: Solution, tree: cst.Module) -> bool:
        return any(kind == "rec" and reason == OLD for _, kind, reason, _ in own.facts)

    def prepare(self) -> None:
        self._mocks = {id(call) for key, call, method, _ in self.flow.producers
                       if method == "from_key_and_version" and self.solution.migrates(key)}

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        if id(original_node) not in self._mocks:
            return updated_node
        self.add_needed_import(self.config.target, NEW)
        self.migrated(original_node, f"{OLD}(k, v) -> {NEW}(k, v)")
        return updated_node.with_changes(func=cst.Name(NEW))
