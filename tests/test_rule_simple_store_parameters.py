"""simple_store_parameters: stores, store parameters and store arguments go once nothing needs them."""

from __future__ import annotations

import pytest
from rule_helpers import check_rule

from codemods.legacy import MARKER_PREFIX
from codemods.rules import RULES as ALL_RULES
from codemods.rules.annotations import Annotations
from codemods.rules.legacy_imports import LegacyImports
from codemods.rules.simple_policy_store import SimplePolicyStoreRule
from codemods.rules.simple_store_parameters import SimpleStoreParameters

S = ("migrated", "simple_policy_store")
P = ("migrated", "simple_store_parameters")
L = ("migrated", "legacy_imports")
STORE = "from metta.sim.simple_policy_store import SimplePolicyStore\n"
WRAPPER = "from metta.sim.policy_wrapper import PolicyWrapper\n"
PIPELINE = [SimplePolicyStoreRule, SimpleStoreParameters, Annotations, LegacyImports]


def test_store_parameter_removed_with_its_callers_arguments_in_other_files() -> None:
    library = (STORE + WRAPPER + "\n\ndef evaluate(policy_store: SimplePolicyStore, uri: str, episodes: int = 4):\n"
               "    pr = policy_store.policy_record(uri)\n    return score(pr, episodes)\n\n\n"
               "def score(pr: PolicyWrapper, episodes: int) -> float:\n    return len(pr.run_name) * episodes\n")
    library_after = ("from tinyckpt import latest_checkpoint, parse_checkpoint_path\n\n\n"
                     "def evaluate(uri: str, episodes: int = 4):\n    pr = latest_checkpoint(uri)\n"
                     "    return score(pr, episodes)\n\n\n"
                     "def score(pr: str, episodes: int) -> float:\n    return len(parse_checkpoint_path(pr)[0]) * episodes\n")
    caller = ("from app.lib import evaluate\n" + STORE + "\n\ndef main(uris):\n    store = SimplePolicyStore()\n"
              "    first = evaluate(store, uris[0])\n    return first, evaluate(policy_store=SimplePolicyStore(), uri=uris[1])\n")
    caller_after = ("from app.lib import evaluate\n\n\ndef main(uris):\n    first = evaluate(uris[0])\n"
                    "    return first, evaluate(uri=uris[1])\n")
    trees = {"app.lib": library, "app.cli": caller}
    check_rule(PIPELINE, library, library_after, module_name="app.lib", others=trees,
               sites=[L, L, P, S, ("migrated", "annotations"), S])
    check_rule(PIPELINE, caller, caller_after, module_name="app.cli", others=trees, sites=[L, P, P, P],
               others_after={"app.lib": library_after})



def test_a_store_argument_with_side_effects_is_manual() -> None:
    library = STORE + "\n\ndef evaluate(policy_store: SimplePolicyStore, uri: str):\n    return policy_store.policy_record(uri)\n"
    caller = ("from app.lib import evaluate\n" + STORE + "\n\ndef main(uri):\n"
              "    return evaluate(SimplePolicyStore.create(device=pick_device()), uri)\n")
    after = caller.replace("    return", f"    {MARKER_PREFIX}a store argument with side effects; drop it by hand\n    return")
    check_rule(SimpleStoreParameters, caller, after, module_name="app.cli", others={"app.lib": library},
               sites=[("manual", "simple_store_parameters")])


def test_a_store_of_unseen_origin_keeps_its_calls_and_says_why() -> None:
    """A caller passes `make_store()`, which this tool cannot follow: the callee's store may be anything, so its
    record call stays (marked, with the reason) and the caller stays as it is (issue: units are all or nothing)."""
    library = STORE + "\n\ndef evaluate(policy_store: SimplePolicyStore, uri: str):\n    return policy_store.policy_record(uri)\n"
    caller = "from app.lib import evaluate\n\n\ndef main(uri):\n    return evaluate(make_store(), uri)\n"
    trees = {"app.lib": library, "app.cli": caller}
    check_rule(ALL_RULES, caller, caller, module_name="app.cli", others=trees)
    marked = library.replace("    return", f"    {MARKER_PREFIX}a store call on a value this tool cannot prove is a store "
                                         "(passed to evaluate() as policy_store from an expression this tool cannot "
                                         "follow); decide which checkpoint this loads\n    return")
    check_rule(ALL_RULES, library, marked, module_name="app.lib", others=trees,
               sites=[("manual", "simple_policy_store", "cannot prove is a store")])


def test_a_store_still_used_by_a_manual_site_stays() -> None:
    source = (STORE + "\n\ndef play(uri):\n    store = SimplePolicyStore()\n"
              "    return store.policy_record_or_mock(uri, 'x')\n")
    check_rule(SimpleStoreParameters, source, source)


def test_a_function_passed_around_keeps_its_store_parameter() -> None:
    source = (STORE + "\n\ndef evaluate(policy_store: SimplePolicyStore, uri):\n    return policy_store.policy_record(uri)\n\n\n"
              "HOOKS = [evaluate]\nevaluate(SimplePolicyStore(), 'x')\n")
    check_rule(SimpleStoreParameters, source, source)


def test_an_unannotated_parameter_is_not_taken_for_a_store() -> None:
    source = "def evaluate(policy_store, uri):\n    return policy_store.policy_record(uri)\n\n\nevaluate(None, 'x')\n"
    check_rule(SimpleStoreParameters, source, source)


# -- a store built inside a block ---------------------------------------------------------------------
# (the body of a compound statement cannot be empty: the store's line becomes `pass` when it was alone)
BLOCKS = {
    "if": ("    if enabled:\n", ""),
    "else": ("    if enabled:\n        print(uri)\n    else:\n", ""),
    "try": ("    try:\n", "    except ImportError:\n        return None\n"),
    "with": ("    with lock:\n", ""),
    "for": ("    for _ in range(2):\n", ""),
}


def _in_block(block: str, inner: str) -> str:
    head, tail = BLOCKS[block]
    return (f"\n\ndef play(uri, enabled, lock):\n{head}{inner}{tail}"
            "    return sps.policy_record(uri)\n")


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_a_store_built_alone_in_a_block_leaves_a_pass(block: str) -> None:
    before = STORE + _in_block(block, "        sps = SimplePolicyStore.create()\n")
    after = "from tinyckpt import latest_checkpoint\n" + _in_block(block, "        pass\n").replace(
        "sps.policy_record(uri)", "latest_checkpoint(uri)")
    check_rule(PIPELINE, before, after, sites=[L, P, S])


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_a_store_built_in_a_block_with_other_statements_goes_alone(block: str) -> None:
    before = STORE + _in_block(block, "        print(uri)\n        sps = SimplePolicyStore(device='cpu')\n"
                                      "        print(enabled)\n")
    after = "from tinyckpt import latest_checkpoint\n" + _in_block(block, "        print(uri)\n        print(enabled)\n"
                                                                   ).replace("sps.policy_record(uri)", "latest_checkpoint(uri)")
    check_rule(PIPELINE, before, after, sites=[L, P, S])


def test_the_comments_above_a_lone_store_stay_above_its_pass() -> None:
    before = STORE + "\n\ndef play(uri, enabled):\n    if enabled:\n        # the default device\n" \
                     "        sps = SimplePolicyStore()\n    return sps.policy_record(uri)\n"
    after = ("from tinyckpt import latest_checkpoint\n\n\ndef play(uri, enabled):\n    if enabled:\n"
             "        # the default device\n        pass\n    return latest_checkpoint(uri)\n")
    check_rule(PIPELINE, before, after, sites=[L, P, S])


def test_a_store_built_in_both_branches_goes_from_both() -> None:
    before = STORE + ("\n\ndef play(uri, device):\n    if device:\n        sps = SimplePolicyStore.create(device=device)\n"
                      "    else:\n        sps = SimplePolicyStore()\n    return sps.policy_record(uri)\n")
    after = ("from tinyckpt import latest_checkpoint\n\n\ndef play(uri, device):\n    if device:\n        pass\n"
             "    else:\n        pass\n    return latest_checkpoint(uri)\n")
    check_rule(PIPELINE, before, after, sites=[L, P, P, S])


def test_a_store_whose_only_use_is_in_a_nested_function_goes() -> None:
    before = STORE + ("\n\ndef play(uri):\n    sps = SimplePolicyStore()\n\n    def load():\n"
                      "        print(sps.policy_record(uri).run_name)\n    return load\n")
    after = ("from tinyckpt import latest_checkpoint, parse_checkpoint_path\n\n\ndef play(uri):\n\n    def load():\n"
             "        print(parse_checkpoint_path(latest_checkpoint(uri))[0])\n    return load\n")
    check_rule(PIPELINE, before, after, sites=[L, P, S, S])


def test_a_record_a_nested_function_returns_stays_with_its_store() -> None:
    """Whoever calls the returned closure gets the record: this tool cannot see them, so the record (and the
    store that makes it) stays, marked."""
    before = STORE + ("\n\ndef play(uri):\n    sps = SimplePolicyStore()\n\n    def load():\n"
                      "        return sps.policy_record(uri)\n    return load\n")
    after = before.replace("        return", f"        {MARKER_PREFIX}a record returned from a nested function; it stays a "
                                           "record; it holds back 1 other site of the same record (in app.main)"
                                           "\n        return")
    check_rule(PIPELINE, before, after, sites=[("manual", "simple_policy_store", "nested function")])


def test_a_store_a_nested_function_still_reads_stays() -> None:
    source = STORE + "\n\ndef play():\n    sps = SimplePolicyStore()\n\n    def device():\n        return sps\n    return device\n"
    check_rule(SimpleStoreParameters, source, source)


def test_a_store_annotated_with_its_class_goes_too() -> None:
    before = STORE + "\n\ndef play(uri):\n    sps: SimplePolicyStore = SimplePolicyStore()\n    return sps.policy_record(uri)\n"
    after = "from tinyckpt import latest_checkpoint\n\n\ndef play(uri):\n    return latest_checkpoint(uri)\n"
    check_rule(PIPELINE, before, after, sites=[L, P, S])


# an unused store whose removal is not the deletion of its own line is left as it was, for a person;
# its import stays with it (the record calls still migrate)
UNUSED = f"{MARKER_PREFIX}the store is not used any more, but "
SHARED_LINE = UNUSED + "it is built on a line with other statements; remove it by hand"
IMPURE = UNUSED + "building it calls code in its arguments (keep the side effects you need); remove it by hand"
M = ("manual", "simple_store_parameters")


@pytest.mark.parametrize("statement", ["    if enabled: sps = SimplePolicyStore()\n",
                                       "    sps = SimplePolicyStore(); print(enabled)\n"], ids=["if-suite", "semicolons"])
def test_an_unused_store_sharing_its_line_is_manual(statement: str) -> None:
    before = STORE + f"\n\ndef play(uri, enabled):\n{statement}    return sps.policy_record(uri)\n"
    after = (STORE + "from tinyckpt import latest_checkpoint\n\n\ndef play(uri, enabled):\n"
             f"    {SHARED_LINE}\n{statement}    return latest_checkpoint(uri)\n")
    check_rule(PIPELINE, before, after, sites=[S, (*M, "on a line with other statements")])


def test_an_unused_store_built_with_a_call_in_its_arguments_is_manual() -> None:
    before = STORE + ("\n\ndef play(uri):\n    sps = SimplePolicyStore.create(device=pick_device())\n"
                      "    return sps.policy_record(uri)\n")
    after = (STORE + "from tinyckpt import latest_checkpoint\n\n\ndef play(uri):\n"
             f"    {IMPURE}\n    sps = SimplePolicyStore.create(device=pick_device())\n    return latest_checkpoint(uri)\n")
    check_rule(PIPELINE, before, after, sites=[S, (*M, "calls code")])


def test_every_binding_of_an_unused_store_goes_or_none() -> None:
    before = STORE + ("\n\ndef play(uri, enabled):\n    if enabled:\n        sps = SimplePolicyStore()\n"
                      "    else:\n        sps = SimplePolicyStore(pick_device())\n    return sps.policy_record(uri)\n")
    after = (STORE + "from tinyckpt import latest_checkpoint\n\n\ndef play(uri, enabled):\n    if enabled:\n"
             f"        {UNUSED}another binding of its name cannot simply go; remove it by hand\n"
             f"        sps = SimplePolicyStore()\n    else:\n        {IMPURE}\n"
             "        sps = SimplePolicyStore(pick_device())\n    return latest_checkpoint(uri)\n")
    check_rule(PIPELINE, before, after, sites=[(*M, "another binding"), S, (*M, "calls code")])


def test_a_store_line_removed_after_a_blank_line_in_a_block_leaves_an_empty_line() -> None:
    """The blank line above the removed store stays, empty (not the block's indentation: no trailing spaces)."""
    before = (STORE + "\n\ndef main(uris, device):\n    first = uris[0]\n\n    store = SimplePolicyStore.create(device=device)\n"
              "    return store.policy_record(first)\n")
    after = ("from tinyckpt import latest_checkpoint\n\n\ndef main(uris, device):\n    first = uris[0]\n\n"
             "    return latest_checkpoint(first)\n")
    check_rule(PIPELINE, before, after, sites=[L, P, S])
