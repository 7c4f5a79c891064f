"""policy_selector_config: selector settings have no tinyckpt counterpart -> manual."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules import RULES


def test_a_selector_setting_is_manual_once_per_statement() -> None:
    before = '''from dataclasses import dataclass, field

from metta.agent.policy_store import PolicySelectorConfig


@dataclass
class Cfg:
    selector: PolicySelectorConfig = field(default_factory=lambda: PolicySelectorConfig(type="top"))
'''
    after = before.replace("    selector:", "    # tinyckpt-migrate: manual: PolicySelectorConfig (selectors top/rand, "
                           "metrics) has no tinyckpt counterpart; decide how this setting picks checkpoints\n    selector:")
    check_rule(RULES, before, after, sites=[("manual", "policy_selector_config", "PolicySelectorConfig")])


def test_a_class_of_the_same_name_defined_here_is_untouched() -> None:
    source = '''class PolicySelectorConfig:
    pass


cfg = PolicySelectorConfig()
'''
    check_rule(RULES, source, source)


def test_a_use_above_a_late_import_is_marked_too() -> None:
    """An annotation above the late `# noqa: E402` import that binds its name: LibCST binds the use to
    nothing (the import comes later), yet it is the legacy class when the code runs (found by the property
    tests once such imports were no longer removed as unused)."""
    before = ("from __future__ import annotations\n\n\ndef use(selector: PolicySelectorType):\n    return selector\n\n\n"
              "from metta.agent.policy_store import PolicySelectorType  # noqa: E402\n")
    after = before.replace("def use", "# tinyckpt-migrate: manual: PolicySelectorType (selectors top/rand, metrics) "
                           "has no tinyckpt counterpart; decide how this setting picks checkpoints\ndef use")
    check_rule(RULES, before, after, sites=[("manual", "policy_selector_config", "PolicySelectorType")], flakes=False)
