"""policy_metadata: PolicyMetadata(**kw) -> dict(**kw)."""

from __future__ import annotations

import pytest
from rule_helpers import check_rule, run_rule

from codemods.rules import RULES


def test_metadata_becomes_a_dict() -> None:
    check_rule(RULES, '''from metta.agent.policy_metadata import PolicyMetadata


def row(run_name: str, epoch: int, **scores: float) -> dict:
    return PolicyMetadata(run_name=run_name, epoch=epoch, **scores)


def copy(d):
    return PolicyMetadata.from_dict(d)
''', '''def row(run_name: str, epoch: int, **scores: float) -> dict:
    return dict({"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}, run_name=run_name, epoch=epoch, **scores)


def copy(d):
    return dict({"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}, **d)
''')


def test_the_class_reached_through_its_module_is_migrated_too() -> None:
    """`policy_metadata.PolicyMetadata(...)`: the call is the constructor (not `from_dict`), whatever its
    function is spelled as."""
    check_rule(RULES, '''from metta.agent import policy_metadata


def row(epoch: int, **kw) -> dict:
    return policy_metadata.PolicyMetadata(1, epoch=epoch, **kw)


def copy(d):
    return policy_metadata.PolicyMetadata.from_dict(d)
''', '''def row(epoch: int, **kw) -> dict:
    return dict({"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}, agent_step=1, epoch=epoch, **kw)


def copy(d):
    return dict({"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}, **d)
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


DEFAULTS = '{"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}'
IMPORT = "from metta.agent.policy_metadata import PolicyMetadata\n\n"


@pytest.mark.parametrize("call, new", [
    ("PolicyMetadata()", f"dict({DEFAULTS})"),
    ("PolicyMetadata(epoch=3, score=0.5)", f"dict({DEFAULTS}, epoch=3, score=0.5)"),
    ("PolicyMetadata(100, 3)", f"dict({DEFAULTS}, agent_step=100, epoch=3)"),
    ("PolicyMetadata(**extra)", f"dict({DEFAULTS}, **extra)"),
    ("PolicyMetadata(7, train_time=1.5, **extra)", f"dict({DEFAULTS}, agent_step=7, train_time=1.5, **extra)"),
    ("PolicyMetadata.from_dict(d)", f"dict({DEFAULTS}, **d)"),
], ids=["no arguments", "keywords", "positional", "**extra", "mixed", "from_dict"])
def test_the_legacy_defaults_are_kept(call: str, new: str) -> None:
    """PolicyMetadata filled agent_step, epoch, generation and train_time with defaults; the dict must too
    (a later meta["epoch"] or meta.get("agent_step") would otherwise change meaning)."""
    before = IMPORT + f"def make(d, extra):\n    return {call}\n"
    check_rule(RULES, before, f"def make(d, extra):\n    return {new}\n")


def test_a_key_given_overrides_its_default_and_the_defaults_are_there_at_run_time() -> None:
    before = IMPORT + "def make(**scores):\n    return PolicyMetadata(epoch=4, **scores)\n"
    result = check_rule(RULES, before, f"def make(**scores):\n    return dict({DEFAULTS}, epoch=4, **scores)\n")
    namespace: dict = {}
    exec(compile(result.new_source, "migrated", "exec"), namespace)  # the migrated code runs: read its defaults
    made = namespace["make"](score=0.5)
    assert made == {"agent_step": 0, "epoch": 4, "generation": 0, "train_time": 0.0, "score": 0.5}
    assert made.get("agent_step") == 0 and type(made) is dict


OWN_CLASS = '''class PolicyMetadata(dict):
    def __init__(self, epoch: int = 1, step: int = -1, label: str = "none", **extra):
        super().__init__(epoch=epoch, step=step, label=label, **extra)

    @classmethod
    def from_dict(cls, d):
        return cls(**d)
'''


def test_a_codebase_with_other_defaults_gets_its_own() -> None:
    before = IMPORT + "a = PolicyMetadata(2)\nb = PolicyMetadata.from_dict({})\n"
    after = ('a = dict({"epoch": 1, "step": -1, "label": "none"}, epoch=2)\n'
             'b = dict({"epoch": 1, "step": -1, "label": "none"}, **{})\n')
    check_rule(RULES, before, after, others={"metta.agent.policy_metadata": OWN_CLASS})


def test_computed_defaults_are_manual() -> None:
    own = ("import time\n\n\nclass PolicyMetadata(dict):\n    def __init__(self, stamp=time.time(), **extra):\n"
           "        super().__init__(stamp=stamp, **extra)\n")
    before = IMPORT + "a = PolicyMetadata(x=1)\n"
    after = IMPORT + ("# tinyckpt-migrate: manual: PolicyMetadata's default for stamp is computed; decide what the dict "
                      "starts with\na = PolicyMetadata(x=1)\n")
    check_rule(RULES, before, after, others={"metta.agent.policy_metadata": own},
               sites=[("manual", "policy_metadata", "computed")])


def test_metadata_that_feeds_a_record_staying_legacy_stays_a_policy_metadata() -> None:
    """The record is built by hand (manual): whatever reads its metadata expects a PolicyMetadata."""
    before = '''from metta.agent.policy_metadata import PolicyMetadata
from metta.agent.policy_record import PolicyRecord


def snapshot(store, agent, uri):
    metadata = PolicyMetadata()
    metadata["note"] = "manual save"
    pr = PolicyRecord(store, "run", uri, metadata)
    pr.policy = agent
    return pr
'''
    result = run_rule(RULES, before)
    assert result.error is None
    assert "    metadata = PolicyMetadata()\n" in result.new_source  # left as it is
    assert "dict(" not in result.new_source
    manual = [s for s in result.sites if s.outcome == "manual"]
    assert [s.rule for s in manual] == ["policy_store"]  # the record says why, and what it holds back
    assert "built by hand" in manual[0].message and "holds back" in manual[0].message


def test_metadata_handed_to_a_legacy_module_function_stays_and_says_why() -> None:
    before = (IMPORT + "from metta.agent.policy_store import publish_metadata\n\n\n"
              "def push():\n    meta = PolicyMetadata(epoch=1)\n    publish_metadata(meta)\n")
    after = before.replace("    publish_metadata(meta)", "    # tinyckpt-migrate: manual: a PolicyMetadata passed to "
                           "publish_metadata(), which stays legacy; it stays a PolicyMetadata; it holds back 1 other "
                           "site of the same PolicyMetadata (in app.main)\n    publish_metadata(meta)")
    check_rule(RULES, before, after, sites=[("manual", "policy_metadata", "stays legacy")])
