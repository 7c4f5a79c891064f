"""MockPolicyRecord.from_key_and_version(k, v) -> checkpoint_path(k, v): the checkpoint of run k at epoch v."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from codemods.analysis import Analysis
from codemods.edits import Edit
from codemods.rules._rule import Rule

OLD, NEW = "MockPolicyRecord.from_key_and_version", "checkpoint_path"


class MockPolicyRecordRule(Rule):
    NAME = "mock_policy_record"
    DESCRIPTION = ("MockPolicyRecord.from_key_and_version(key, version) -> checkpoint_path(key, version), where "
                   "the mock's whole unit becomes paths (otherwise it stays, and the reason is marked).")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        for key, call, method, _ in a.walk.producers:
            if method == "from_key_and_version" and a.solution.migrates(key):
                yield self.replace(call, f"{OLD}(k, v) -> {NEW}(k, v)",
                                   lambda updated: updated.with_changes(func=cst.Name(NEW)),
                                   imports=[(a.config.target, NEW)])
