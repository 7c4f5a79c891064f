"""simple_store_parameters: stores, store parameters and store arguments go once nothing needs them."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules._base import MARKER_PREFIX
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
               sites=[L, P, S, ("migrated", "annotations"), S])
    check_rule(PIPELINE, caller, caller_after, module_name="app.cli", others=trees, sites=[P, P, P],
               others_after={"app.lib": library_after})



def test_a_store_argument_with_side_effects_is_manual() -> None:
    library = STORE + "\n\ndef evaluate(policy_store: SimplePolicyStore, uri: str):\n    return policy_store.policy_record(uri)\n"
    caller = "from app.lib import evaluate\n\n\ndef main(uri):\n    return evaluate(make_store(), uri)\n"
    after = caller.replace("    return", f"    {MARKER_PREFIX}a store argument with side effects; drop it by hand\n    return")
    check_rule(SimpleStoreParameters, caller, after, module_name="app.cli", others={"app.lib": library},
               sites=[("manual", "simple_store_parameters")])


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
