"""Shared helper for rule tests: inline before/after strings, checked the way django-upgrade does.

    from rule_helpers import check_rule
    check_rule(MyRule, before, after, sites=[("migrated", "my_rule")])

`check_rule` asserts, in order:
- the engine reports no error and the output equals `after` byte for byte;
- `after` compiles;
- a second run over `after` changes nothing (idempotence);
- the reported sites, as (outcome, rule) pairs in source order, equal `sites`
  (when `sites` is None: no site at all for a no-change case, otherwise at least one
  site and every site "migrated"); an entry may also be (outcome, rule, text) and then
  `text` must occur in that site's message;
- the rewrite adds no undefined name and no unused import (pyflakes on `before` vs `after`).

Cross-file facts: unless `index` is given, the index is built from `before` alone (plus the
`others` sources, {module_name: source}), exactly as the runner would for a tree of those files;
`others_after` (the other files once migrated) is what the second run sees instead of `others`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyflakes import checker, messages

from codemods.config import Config
from codemods.engine import FileResult, collect_facts, merge_facts, migrate_source
from codemods.rules._rule import Rule as LegacyRule

DEFAULT_MODULE = "app.main"

SiteSpec = Sequence[str]  # (outcome, rule) or (outcome, rule, message-substring)


def _rules(rule_or_rules: type[LegacyRule] | Iterable[type[LegacyRule]]) -> list[type[LegacyRule]]:
    if isinstance(rule_or_rules, type):
        return [rule_or_rules]
    return list(rule_or_rules)


def _package(module_name: str, is_package: bool) -> str:
    return module_name if is_package else module_name.rpartition(".")[0]


def _path(module_name: str, is_package: bool) -> str:
    base = module_name.replace(".", "/")
    return f"{base}/__init__.py" if is_package else f"{base}.py"


def build_index(sources: Mapping[str, str], rules: Sequence[type[LegacyRule]], config: Config) -> dict[str, list[Any]]:
    """The cross-file index of a tree given as {module_name: source} (modules, not packages)."""
    return merge_facts(
        collect_facts(src, _path(mod, False), config=config, rules=rules, module_name=mod,
                      package_name=_package(mod, False))
        for mod, src in sources.items()
    )


def run_rule(
    rule_or_rules: type[LegacyRule] | Iterable[type[LegacyRule]],
    source: str,
    *,
    module_name: str = DEFAULT_MODULE,
    is_package: bool = False,
    config: Config | None = None,
    index: Mapping[str, Any] | None = None,
    others: Mapping[str, str] | None = None,
) -> FileResult:
    """Run the rules over one source (the index built from it and `others` unless given)."""
    rules = _rules(rule_or_rules)
    config = config or Config()
    if index is None:
        index = build_index({**(others or {}), module_name: source}, rules, config)
    return migrate_source(source, _path(module_name, is_package), config=config, index=index, rules=rules,
                          module_name=module_name, package_name=_package(module_name, is_package))


def _flakes(source: str, path: str) -> tuple[set[str], set[str]]:
    """(undefined names, unused imports) pyflakes finds in `source`."""
    found = checker.Checker(ast.parse(source), filename=path)
    undefined = {m.message_args[0] for m in found.messages if isinstance(m, messages.UndefinedName)}
    unused = {m.message_args[0] for m in found.messages if isinstance(m, messages.UnusedImport)}
    return undefined, unused


def _site_matches(site: Any, spec: SiteSpec) -> bool:
    outcome, rule, *text = spec
    return site.outcome == outcome and site.rule == rule and all(t in site.message for t in text)


def check_rule(
    rule_or_rules: type[LegacyRule] | Iterable[type[LegacyRule]],
    before: str,
    after: str,
    *,
    sites: Sequence[SiteSpec] | None = None,
    module_name: str = DEFAULT_MODULE,
    is_package: bool = False,
    config: Config | None = None,
    index: Mapping[str, Any] | None = None,
    others: Mapping[str, str] | None = None,
    others_after: Mapping[str, str] | None = None,
    flakes: bool = True,
) -> FileResult:
    """Assert `before` becomes exactly `after`, compiles, is stable, and reports `sites`."""
    kwargs: dict[str, Any] = dict(module_name=module_name, is_package=is_package, config=config, index=index,
                                  others=others)
    result = run_rule(rule_or_rules, before, **kwargs)
    assert result.error is None, result.error
    assert result.new_source == after, (
        f"output differs from expected\n--- got ---\n{result.new_source}--- expected ---\n{after}"
    )
    compile(after, result.path, "exec", dont_inherit=True)

    if others_after is not None:  # the second run sees the other files migrated too
        kwargs["others"] = others_after
    again = run_rule(rule_or_rules, after, **kwargs)
    assert again.error is None, again.error
    assert again.new_source == after, f"second run changed the output\n--- second run ---\n{again.new_source}"
    assert not [s for s in again.sites if s.outcome == "migrated"], f"second run migrated again: {again.sites}"

    got = sorted(result.sites, key=lambda s: (s.line, s.column))
    if sites is None:
        if before == after:
            assert got == [], f"a no-change case reported sites: {got}"
        else:
            assert got, "a rewrite reported no site"
            assert all(s.outcome == "migrated" for s in got), f"unexpected manual sites: {got}"
    else:
        pairs = [(s.outcome, s.rule) for s in got]
        assert len(got) == len(sites) and all(map(_site_matches, got, sites)), (
            f"reported sites {pairs} (messages {[s.message for s in got]}) != expected {list(sites)}"
        )

    if flakes and before != after:
        undefined_before, unused_before = _flakes(before, result.path)
        undefined_after, unused_after = _flakes(after, result.path)
        assert undefined_after <= undefined_before, f"new undefined names: {undefined_after - undefined_before}"
        assert unused_after <= unused_before, f"new unused imports: {unused_after - unused_before}"
    return result
