"""policy_cache: PolicyCache has no tinyckpt counterpart -> manual."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules import RULES


def test_policy_cache_is_manual() -> None:
    before = '''from metta.agent.policy_cache import PolicyCache


def use():
    cache = PolicyCache(max_size=3)
    cache.put("k", None)
'''
    after = before.replace("    cache = ", "    # tinyckpt-migrate: manual: PolicyCache has no tinyckpt counterpart (agents are "
                           "loaded with torch.load); decide whether this cache stays\n    cache = ")
    check_rule(RULES, before, after, sites=[("manual", "policy_cache", "PolicyCache")])


def test_a_cache_class_of_the_same_name_defined_here_is_untouched() -> None:
    source = '''class PolicyCache(dict):
    pass


cache = PolicyCache()
'''
    check_rule(RULES, source, source)
