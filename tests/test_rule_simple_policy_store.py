"""simple_policy_store: records become checkpoint paths; wrappers are read from the path; stores go when unused."""

from __future__ import annotations

import pytest
from rule_helpers import check_rule

from codemods.legacy import MARKER_PREFIX
from codemods.rules.annotations import Annotations
from codemods.rules.legacy_imports import LegacyImports
from codemods.rules.simple_policy_store import MOCK, SimplePolicyStoreRule
from codemods.rules.simple_store_parameters import SimpleStoreParameters

S = ("migrated", "simple_policy_store")
L = ("migrated", "legacy_imports")  # the store import, once the store is gone
# (sites are in source order; a later rule reports positions in its own input, after earlier rules' imports)
STORE = "from metta.sim.simple_policy_store import SimplePolicyStore\n"
WRAPPER = "from metta.sim.policy_wrapper import PolicyWrapper\n"
P = ("migrated", "simple_store_parameters")
PIPELINE = [SimplePolicyStoreRule, SimpleStoreParameters, Annotations, LegacyImports]


def _holds(function: str, count: int = 1) -> str:
    """What a manual site of a record says it holds back: the rest of the record's unit (here all in `function`
    of app.main; the marker names modules)."""
    return f"; it holds back {count} other site{'s' if count > 1 else ''} of the same record (in app.main)"


def test_record_from_a_local_store() -> None:
    before = ("import torch\n\n" + STORE + "\n\ndef play(uri):\n    store = SimplePolicyStore(device=\"cpu\")\n"
              "    pr = store.policy_record(uri)\n    return pr.policy, pr.uri, pr.run_name, pr.metadata.epoch\n")
    after = ("import torch\n\nfrom tinyckpt import latest_checkpoint, parse_checkpoint_path\n\n\ndef play(uri):\n"
             "    pr = latest_checkpoint(uri)\n    return torch.load(pr, weights_only=False), pr, "
             "parse_checkpoint_path(pr)[0], parse_checkpoint_path(pr)[1]\n")
    check_rule(PIPELINE, before, after, sites=[L, P, S, S, S, S, S])


def test_file_uri_literal_and_a_created_store() -> None:
    before = STORE + "\nstore = SimplePolicyStore.create(device=\"cpu\", wandb_run=None)\n" \
                     "pr = store.policy_record(\"file://./train_dir/run/checkpoints\")\nprint(pr.metadata[\"epoch\"])\n"
    after = "from tinyckpt import latest_checkpoint, parse_checkpoint_path\n\n" \
            "pr = latest_checkpoint(\"file://./train_dir/run/checkpoints\")\nprint(parse_checkpoint_path(pr)[1])\n"
    check_rule(PIPELINE, before, after, sites=[L, P, S, S])


def test_mock_with_a_literal_uri_is_a_path() -> None:
    before = STORE + "\nstore = SimplePolicyStore()\npr = store.policy_record_or_mock(\"./train_dir/a\", \"a\")\n" \
                     "print(pr.uri)\n"
    after = "from tinyckpt import latest_checkpoint\n\npr = latest_checkpoint(\"./train_dir/a\")\nprint(pr)\n"
    check_rule(PIPELINE, before, after, sites=[L, P, S, S])


def test_mock_fallback_and_foreign_scheme_are_manual_and_keep_the_store() -> None:
    before = (STORE + "\n\ndef play(args):\n    store = SimplePolicyStore.create(device=\"cpu\")\n"
              "    pr = store.policy_record_or_mock(args.uri, args.name)\n"
              "    base = store.policy_record(\"wandb://run/baseline:v3\")\n    return pr.policy, base.run_name\n")
    after = before.replace("    pr =", f"    {MARKER_PREFIX}{MOCK}{_holds('play')}\n    pr =").replace(
        "    base =", f"    {MARKER_PREFIX}wandb:// URIs have no tinyckpt counterpart; download the checkpoint or "
                     f"pass a local path{_holds('play')}\n    base =")
    result = check_rule(PIPELINE, before, after, sites=[("manual", "simple_policy_store", "mock"),
                                                         ("manual", "simple_policy_store", "wandb://")])
    assert [s.line for s in result.sites] == [7, 9]


def test_records_in_a_list_and_loops() -> None:
    before = (WRAPPER + "\n\ndef pick(records: list[PolicyWrapper], name: str):\n"
              "    by_run = {pr.run_name: pr for pr in records}\n    for pr in records:\n"
              "        if pr.run_name == name:\n            return pr\n    return by_run\n")
    after = ("from tinyckpt import parse_checkpoint_path\n\n\ndef pick(records: list[str], name: str):\n"
             "    by_run = {parse_checkpoint_path(pr)[0]: pr for pr in records}\n    for pr in records:\n"
             "        if parse_checkpoint_path(pr)[0] == name:\n            return pr\n    return by_run\n")
    check_rule(PIPELINE, before, after, sites=[L, ("migrated", "annotations"), S, S])


def test_wrapper_metadata_without_counterpart_is_manual() -> None:
    before = WRAPPER + "\n\ndef f(pr: PolicyWrapper):\n    return pr.metadata.score\n"
    reason = ("PolicyWrapper.metadata.score has no tinyckpt counterpart (a checkpoint path carries only run name and "
              "epoch); decide" + _holds("f"))
    after = before.replace("    return", f"    {MARKER_PREFIX}{reason}\n    return")
    check_rule(SimplePolicyStoreRule, before, after, sites=[("manual", "simple_policy_store")])


NEAR_MISSES = {
    "a local class called SimplePolicyStore": (
        "class SimplePolicyStore:\n    def policy_record(self, uri):\n        return uri\n\n\n"
        "store = SimplePolicyStore()\npr = store.policy_record('x')\nprint(pr.policy)\n"),
    "policy_record on an unrelated object": "def f(registry, uri):\n    pr = registry.policy_record(uri)\n"
                                            "    return pr.policy, pr.uri\n",
    "a new PolicyWrapper imported from elsewhere": (
        "from app.models import PolicyWrapper\n\n\ndef f(pr: PolicyWrapper):\n    return pr.policy, pr.run_name\n"),
    "a store parameter whose function is passed around (not only called)": (
        STORE + "\n\ndef evaluate(policy_store: SimplePolicyStore, uri):\n    return policy_store.policy_record_or_mock(uri, 'x')"
        ".policy\n\n\nHOOKS = [evaluate]\n"),
}


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_near_misses(name: str) -> None:
    source = NEAR_MISSES[name]
    if "policy_record_or_mock(uri" in source:  # the mock call itself is a manual site; nothing else changes
        after = source.replace("    return", f"    {MARKER_PREFIX}{MOCK}{_holds('evaluate')}\n    return")
        check_rule(SimplePolicyStoreRule, source, after, sites=[("manual", "simple_policy_store")])
    else:
        check_rule(SimplePolicyStoreRule, source, source)


def test_a_wrapper_variable_also_bound_to_a_value_of_unseen_origin_is_manual() -> None:
    """`other` comes from callers the project does not have: the wrapper's unit cannot be proven whole."""
    before = WRAPPER + "\n\ndef f(pr: PolicyWrapper, other):\n    pr = other\n    return pr.policy\n"
    after = before.replace("\n\ndef f", "\n\n# tinyckpt-migrate: manual: a record received by f()'s parameter other, "
                           "and nothing in the project calls f(): where it comes from cannot be seen; it stays a "
                           "record" + _holds("f", 2) + "\ndef f")
    check_rule(SimplePolicyStoreRule, before, after, sites=[("manual", "simple_policy_store", "cannot be seen")])


def test_the_wrapper_class_built_or_tested_by_hand_is_manual() -> None:
    from codemods.rules.simple_policy_store import AS_VALUE, BUILT
    before = (WRAPPER + "\n\ndef f(agent, x):\n    pr = PolicyWrapper(agent, uri='a.pt')\n"
              "    return isinstance(x, PolicyWrapper)\n")
    after = before.replace("    pr =", f"    {MARKER_PREFIX}{BUILT}\n    pr =").replace(
        "    return", f"    {MARKER_PREFIX}{AS_VALUE}\n    return")
    check_rule(SimplePolicyStoreRule, before, after, sites=[("manual", "simple_policy_store"),
                                                            ("manual", "simple_policy_store")])
