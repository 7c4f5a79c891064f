"""wrapper_annotations: only the half-state wrapper's annotations become str (early, before the record rules)."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules.wrapper_annotations import WrapperAnnotations

W = ("migrated", "wrapper_annotations")


def test_wrapper_and_its_alias_become_str() -> None:
    before = ("import os\nfrom metta.sim.policy_wrapper import PolicyRecord, PolicyWrapper\n\n\n"
              "def f(a: PolicyWrapper, b: list[PolicyRecord]) -> 'PolicyWrapper':\n    return a\n")
    after = "import os\n\n\ndef f(a: str, b: list[str]) -> 'str':\n    return a\n"
    check_rule(WrapperAnnotations, before, after, sites=[W, W, W], flakes=False)


def test_full_legacy_record_and_manager_are_left_for_later_rules() -> None:
    source = ("from metta.agent.policy_record import PolicyRecord\n"
              "from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n\n\n"
              "def f(r: PolicyRecord, m: SimpleCheckpointManager) -> None:\n    pass\n")
    check_rule(WrapperAnnotations, source, source)
