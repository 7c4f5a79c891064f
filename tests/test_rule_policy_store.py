"""policy_store: store calls on file paths become tinyckpt calls; selectors/URIs without a counterpart are manual."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules import RULES


def test_policy_record_becomes_latest_checkpoint_and_the_store_goes() -> None:
    check_rule(RULES, '''from metta.agent.policy_store import PolicyStore


def load(uri):
    store = PolicyStore()
    pr = store.policy_record(uri)
    return pr.policy
''', '''import torch
from tinyckpt import latest_checkpoint


def load(uri):
    pr = latest_checkpoint(uri)
    return torch.load(pr, weights_only=False)
''')


def test_policy_records_all_and_latest() -> None:
    check_rule(RULES, '''from metta.agent.policy_store import PolicyStore


def runs(store: PolicyStore, path: str):
    prs = store.policy_records(path, selector_type="all")
    [latest] = store.policy_records(path, selector_type="latest")
    return [pr.run_name for pr in prs], latest.uri
''', '''from tinyckpt import latest_checkpoint, list_checkpoints, parse_checkpoint_path


def runs(path: str):
    prs = list_checkpoints(path)
    [latest] = [latest_checkpoint(path)]
    return [parse_checkpoint_path(pr)[0] for pr in prs], latest
''')


def test_top_selector_by_metric_is_manual_and_its_uses_stay() -> None:
    before = '''from metta.agent.policy_store import PolicyStore


def best(store: PolicyStore, path: str):
    pr = store.policy_record(path, selector_type="top", metric="score")
    return pr.policy
'''
    after = before.replace("    pr = store", "    # tinyckpt-migrate: manual: selector \"top\" by a metric has no tinyckpt "
                           "counterpart; decide how to rank checkpoints; it holds back 1 other site of the same "
                           "record (in app.main)\n    pr = store")
    check_rule(RULES, before, after, sites=[("manual", "policy_store", 'selector "top" by a metric')])


def test_wandb_uri_is_manual_and_keeps_the_store_a_file_path_call_does_not_need() -> None:
    check_rule(RULES, '''from metta.agent.policy_store import PolicyStore


def agents(store: PolicyStore):
    local = store.policy_record("./train_dir/run").policy
    baseline = store.policy_record("wandb://run/baseline:v3").policy
    return local, baseline
''', '''from metta.agent.policy_store import PolicyStore
import torch
from tinyckpt import latest_checkpoint


def agents(store: PolicyStore):
    local = torch.load(latest_checkpoint("./train_dir/run"), weights_only=False)
    # tinyckpt-migrate: manual: wandb:// URIs have no tinyckpt counterpart; download the artifact or point at a local checkpoint; it holds back 1 other site of the same record (in app.main)
    baseline = store.policy_record("wandb://run/baseline:v3").policy
    return local, baseline
''', sites=[("migrated", "policy_store"), ("migrated", "policy_records"),
            ("manual", "policy_store", "wandb:// URIs")])


def test_policy_missing_error_handler_around_a_migrated_call() -> None:
    check_rule(RULES, '''from metta.agent.policy_store import PolicyMissingError, PolicyStore


def load(store: PolicyStore, uri):
    try:
        return store.load_from_uri(uri).policy
    except PolicyMissingError:
        return None
''', '''import torch
from tinyckpt import latest_checkpoint


def load(uri):
    try:
        return torch.load(latest_checkpoint(uri), weights_only=False)
    except FileNotFoundError:
        return None
''')


def test_a_method_of_the_same_name_on_another_class_is_untouched() -> None:
    source = '''class Store:
    def policy_record(self, uri):
        return uri


def load(uri):
    pr = Store().policy_record(uri)
    s = Store()
    other = s.policy_record(uri)
    return pr.policy, other.uri
'''
    check_rule(RULES, source, source)


def test_store_from_an_unknown_factory_is_left_alone() -> None:
    source = '''from app.factories import make_store


def load(uri):
    return make_store().policy_record(uri).policy
'''
    check_rule(RULES, source, source)


def test_run_alone_a_store_parameter_is_not_guessed_and_its_handler_is_manual() -> None:
    from rule_helpers import run_rule

    from codemods.rules.policy_store import PolicyStoreCalls

    source = '''from metta.agent.policy_store import PolicyMissingError, PolicyStore


def load(store: PolicyStore, uri):
    try:
        return store.load_from_uri(uri).policy
    except PolicyMissingError:
        return None
'''
    result = run_rule(PolicyStoreCalls, source, index={})
    assert result.error is None
    assert result.new_source == source.replace("    try:", "    # tinyckpt-migrate: manual: PolicyMissingError: tinyckpt "
                                               "raises FileNotFoundError; decide what this handler catches\n    try:")
    assert [(s.outcome, s.rule) for s in result.sites] == [("manual", "policy_store")]


def test_policy_missing_error_around_something_else_is_manual() -> None:
    before = '''from metta.agent.policy_store import PolicyMissingError


def use(load):
    try:
        return load()
    except PolicyMissingError:
        return None
'''
    after = before.replace("    try:", "    # tinyckpt-migrate: manual: PolicyMissingError: tinyckpt raises FileNotFoundError; "
                           "decide what this handler catches\n    try:")
    check_rule(RULES, before, after, sites=[("manual", "policy_store", "PolicyMissingError")])

