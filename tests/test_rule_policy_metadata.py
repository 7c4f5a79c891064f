"""policy_metadata: PolicyMetadata(**kw) -> dict(**kw)."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules import RULES


def test_metadata_becomes_a_dict() -> None:
    check_rule(RULES, '''from metta.agent.policy_metadata import PolicyMetadata


def row(run_name: str, epoch: int, **scores: float) -> dict:
    return PolicyMetadata(run_name=run_name, epoch=epoch, **scores)


def copy(d):
    return PolicyMetadata.from_dict(d)
''', '''def row(run_name: str, epoch: int, **scores: float) -> dict:
    return dict(run_name=run_name, epoch=epoch, **scores)


def copy(d):
    return dict(d)
''')


def test_a_typed_dict_of_the_same_name_is_untouched() -> None:
    source = '''from typing import TypedDict


class PolicyMetadata(TypedDict):
    epoch: int


meta = PolicyMetadata(epoch=1)
'''
    check_rule(RULES, source, source)


def test_a_legacy_import_rebound_by_a_local_definition_keeps_the_call_and_marks_the_import() -> None:
    """The call means the module's own class: untouched. The dangling legacy import is not removed
    silently (scope analysis cannot tell the bindings' uses apart) but marked by legacy_imports."""
    source = '''from metta.agent.policy_metadata import PolicyMetadata


class PolicyMetadata(dict):
    pass


meta = PolicyMetadata(epoch=1)
'''
    marked = ("# tinyckpt-migrate: manual: PolicyMetadata is imported from a legacy module and bound again by a "
              "class of the same name; decide which one its uses mean (then remove this import)\n" + source)
    check_rule(RULES, source, marked, sites=[("manual", "legacy_imports", "bound again")], flakes=False)


def test_attribute_reads_on_the_result_are_manual() -> None:
    before = '''from metta.agent.policy_metadata import PolicyMetadata


def epoch_of(kw):
    meta = PolicyMetadata(**kw)
    print(meta.get("score"))
    return meta.epoch
'''
    after = before.replace("    meta = ", "    # tinyckpt-migrate: manual: PolicyMetadata then .epoch: a dict has no attribute "
                           "access; decide what replaces it\n    meta = ")
    check_rule(RULES, before, after, sites=[("manual", "policy_metadata", ".epoch")])
