"""The rule registry, the rule modules, their tests and the migration table (docs/migration.md) name the same rules."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

import codemods.rules
from codemods.rules import RULES
from codemods.rules._rule import Rule as LegacyRule

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import document_rules  # noqa: E402  (scripts/ is not a package)


def _rule_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(codemods.rules.__path__) if not m.name.startswith("_"))


def _migration_table_rules() -> list[str]:
    text = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
    section = text.split(document_rules.BEGIN, 1)[1].split(document_rules.END, 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_every_rule_module_is_registered_once_under_its_own_name() -> None:
    names = [rule.NAME for rule in RULES]
    assert len(names) == len(set(names)), names
    assert sorted(names) == _rule_modules()
    for rule in RULES:
        assert issubclass(rule, LegacyRule)
        assert rule.__module__ == f"codemods.rules.{rule.NAME}", (rule, rule.__module__)


def test_every_rule_says_what_becomes_what() -> None:
    for rule in RULES:
        module = importlib.import_module(rule.__module__)
        assert module.__doc__ and module.__doc__.strip(), f"{rule.NAME}: module docstring"
        assert rule.DESCRIPTION and rule.DESCRIPTION != "No description.", f"{rule.NAME}: DESCRIPTION"


def test_every_rule_has_its_own_tests() -> None:
    for rule in RULES:
        tests = ROOT / "tests" / f"test_rule_{rule.NAME}.py"
        assert tests.is_file(), tests
        assert "def test_" in tests.read_text(encoding="utf-8")


def test_migration_table_lists_the_registry_in_order_and_is_current() -> None:
    assert _migration_table_rules() == [rule.NAME for rule in RULES]
    assert document_rules.is_current(), "docs/migration.md is stale: run python scripts/document_rules.py"
