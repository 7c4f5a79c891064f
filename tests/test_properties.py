"""Property tests: the migration, over generated modules, is safe whatever rules are registered.

For modules that use legacy names in random but valid shapes (tests/property_helpers): the
output parses, a second run changes nothing, every statement that does not involve a legacy name
survives byte for byte, a legacy import is only left behind for a marked manual site, and the
legacy modules `apply` would delete (the runner's own deletion planner) are never imported. For
programs without legacy names (hypothesmith) and modules of near misses only: the output is the
input, byte for byte. Each property runs 500 examples in CI (EXAMPLES); the on-disk path, `apply`
through the runner, runs over one project of PROJECT_MODULES generated modules.

The checks run every rule registered in `codemods.rules.RULES` at the time they run, so they get
stronger as rules land. Reproducible in CI: derandomized, no example database.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from pathlib import Path

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from property_helpers.legacy_modules import (
    LEGACY_TREE,
    MODULE_NAME,
    PACKAGE_NAME,
    GeneratedModule,
    legacy_modules,
)

from codemods import runner
from codemods.config import Config, find_config
from codemods.engine import (
    FileResult,
    ModuleFacts,
    imported_modules,
    migrate_tree,
    plan_deletions,
)
from codemods.legacy import MARKER_PREFIX
from codemods.rules import RULES

CONFIG = Config()
PATH = MODULE_NAME.replace(".", "/") + ".py"

#: Examples per property in CI: 500 each, as issue 7 asks. TINYCKPT_PROPERTY_EXAMPLES overrides every
#: count (e.g. 50 for a quick local run).
EXAMPLES = 500
#: The legacy-module property is the long one (measured 2026-11-26, 2 cores: about 0.5 s an example:
#: facts + migrate, twice for idempotence), so its EXAMPLES run as SHARDS tests of EXAMPLES / SHARDS
#: examples each, one fixed seed each: pytest-xdist runs the shards on different cores.
SHARDS = 2
#: Generated modules in the one project `apply` runs on (through the real runner, on disk).
PROJECT_MODULES = 40


def _examples(default: int) -> int:
    """Examples per property: TINYCKPT_PROPERTY_EXAMPLES overrides every default (e.g. 500)."""
    return int(os.environ.get("TINYCKPT_PROPERTY_EXAMPLES", default))


def _settings(max_examples: int, *, shrink: bool = True, derandomize: bool = True) -> settings:
    # No example database and derandomized (or a fixed seed): CI runs the same examples every time.
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def _migrate(source: str) -> FileResult:
    """What the runner does for one file: one analysis, its own facts as the index, then every registered rule."""
    return migrate_tree([(source, PATH, MODULE_NAME, PACKAGE_NAME)], config=CONFIG)[0]


def legacy_imports(source: str, package: str = PACKAGE_NAME) -> list[str]:
    """Every import of a legacy module left in `source` (any scope; relative imports resolved)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        if any(CONFIG.is_legacy_module(m) for m in modules):
            found.append(ast.unparse(node))
    return found


#: Uses the property once found with no site and no marker (PolicyCache outside a test file, a bare
#: `except PolicyMissingError`), now manual sites: kept as regression cases.
FOUND_GAPS = {
    "PolicyCache": ("from metta.agent.policy_cache import PolicyCache\n\n\n"
                    "def use():\n    cache = PolicyCache(max_size=3)\n    cache.put('k', None)\n"),
    "PolicyMissingError": ("from metta.agent.policy_store import PolicyMissingError\n\n\n"
                           "def use(load):\n    try:\n        return load()\n    except PolicyMissingError:\n"
                           "        return None\n"),
}


@pytest.mark.parametrize("cls", sorted(FOUND_GAPS))
def test_found_gap_is_a_manual_site(cls: str) -> None:
    result = _migrate(FOUND_GAPS[cls])
    assert result.error is None
    assert [s.outcome for s in result.sites] == ["manual"] and MARKER_PREFIX in result.new_source


def test_store_built_alone_in_a_block() -> None:
    source = ("import metta.sim.simple_policy_store\n\n\ndef use(enabled):\n    if enabled:\n"
              "        sps = metta.sim.simple_policy_store.SimplePolicyStore.create()\n"
              "    pw = sps.policy_record(\"file:///tmp/train_dir/run_c/checkpoints/agent_epoch_7.pt\")\n"
              "    return pw.metadata.epoch\n")
    first = _migrate(source)
    assert first.error is None
    left = legacy_imports(first.new_source)
    assert not left or MARKER_PREFIX in first.new_source, left
    again = _migrate(first.new_source)
    assert again.new_source == first.new_source and not [s for s in again.sites if s.outcome == "migrated"]


@pytest.mark.parametrize("definition", ["class PolicyMetadata(dict):\n    pass", "def PolicyMetadata(**kw):\n    return kw"])
def test_legacy_name_rebound_locally_is_not_migrated(definition: str) -> None:
    """A dangling legacy import, then the module's own (new-world) definition of the name: the call
    means the local one (found by the property; policy_metadata used to rewrite it to dict(...))."""
    source = (f"from metta.agent.policy_metadata import PolicyMetadata\n\n\n{definition}\n\n\n"
              "meta = PolicyMetadata(epoch=1)\n")
    result = _migrate(source)
    assert result.error is None
    assert "meta = PolicyMetadata(epoch=1)" in result.new_source


@pytest.mark.parametrize("other", ["from mylib.policy_store import PolicyStore", "from .stores import PolicyStore"])
def test_name_imported_from_a_legacy_module_and_from_another_is_not_migrated(other: str) -> None:
    """Found by the 500-example run: the store calls of a name the module imports twice (a dangling
    legacy import, then another module's class) were rewritten as legacy. Which binding a use means
    is for a person to decide: the use stays as it is, the legacy import is marked."""
    source = ("from metta.agent.policy_store import PolicyStore\n\n\n" + other + "\n\n\n"
              "def load(uri):\n    obj = PolicyStore()\n    rec = obj.policy_record(uri)\n    return rec.policy, rec.uri\n")
    result = _migrate(source)
    assert result.error is None
    assert "    obj = PolicyStore()\n    rec = obj.policy_record(uri)\n    return rec.policy, rec.uri\n" in result.new_source
    assert [(s.rule, s.outcome) for s in result.sites] == [("legacy_imports", "manual")]
    assert result.new_source.startswith(MARKER_PREFIX)


def test_legacy_imports_helper_sees_every_form() -> None:
    source = (
        "import metta.agent.policy_store\nfrom metta.agent import policy_store\n"
        "from ..agent.policy_record import PolicyRecord\ndef f():\n    from metta.sim.policy_wrapper import PolicyWrapper\n"
        "import metta.agent.policy_storage\nfrom mylib.policy_store import PolicyStore\n"
    )
    assert len(legacy_imports(source)) == 4


@pytest.mark.longest
@pytest.mark.parametrize("shard", range(SHARDS))
def test_migrating_generated_legacy_modules_is_safe(shard: int, record_property: Callable[[str, object], None]) -> None:
    """EXAMPLES generated legacy modules in all, EXAMPLES / SHARDS per shard (seed = shard number)."""
    examples = max(1, _examples(EXAMPLES) // SHARDS)
    passed: list[GeneratedModule] = []

    def check(module: GeneratedModule) -> None:
        _check_generated_module(module)
        passed.append(module)

    # no shrink: it re-runs every rule hundreds of times; the failing example is printed as it is
    seed(shard)(_settings(examples, shrink=False, derandomize=False)(given(legacy_modules())(check)))()
    record_property("summary", f"test_migrating_generated_legacy_modules_is_safe[{shard}]: {len(passed)} generated "
                               f"legacy modules passed (of {_examples(EXAMPLES)} over {SHARDS} shards)")
    assert len(passed) >= examples, "hypothesis stopped before running every example"


def _check_generated_module(module: GeneratedModule) -> None:
    compile(module.source, PATH, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)  # the generator is valid
    result = _migrate(module.source)
    assert result.error is None, result.error

    new = result.new_source
    ast.parse(new)  # the output parses (Python's parser) ...
    assert cst.parse_module(new).code == new  # ... and LibCST's
    trailing = {line for line in new.splitlines() if line != line.rstrip()} - set(module.source.splitlines())
    assert not trailing, f"lines with trailing whitespace the source did not have: {trailing}\n{new}"

    again = _migrate(new)
    assert again.error is None, again.error
    assert again.new_source == new, f"second run changed the output:\n{again.new_source}"
    assert not [s for s in again.sites if s.outcome == "migrated"], again.sites

    missing = [stmt for stmt in module.unrelated if stmt not in new]
    assert not missing, f"statements that involve no legacy name were changed or dropped: {missing}\n{new}"
    unmarked = "".join(line for line in new.splitlines(keepends=True) if not line.strip().startswith(MARKER_PREFIX))
    rewritten = [stmt for stmt in module.ambiguous if stmt not in unmarked]
    assert not rewritten, f"statements whose names are ambiguous were rewritten (only a marker may be added): {rewritten}"

    # every legacy use is migrated or marked: a legacy import may only stay for a marked manual site
    # (with no rule registered nothing is migrated or marked yet)
    if RULES:
        left = legacy_imports(new)
        assert not left or MARKER_PREFIX in new, f"legacy imports left without a manual marker: {left}\n{new}"

    # `apply` would delete the legacy modules nothing imports any more (the runner's own planner, over
    # the legacy package tree + this module as migrated): never one this module still imports
    deleted = _deleted_modules(new)
    still = [m for node in ast.walk(ast.parse(new)) for m in _imported(node) if m in deleted]
    assert not still, f"imports of deleted modules {still}:\n{new}"


def _module_facts(rel: str, source: str) -> ModuleFacts:
    module = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    return ModuleFacts(rel, module, frozenset(imported_modules(source, module, rel.endswith("__init__.py"))))


_TREE_FACTS = [_module_facts(rel, text) for rel, text in LEGACY_TREE.items()]


def _deleted_modules(new: str) -> set[str]:
    """The modules `apply` deletes beside this module as migrated (engine.plan_deletions, as the runner)."""
    to_delete, _kept = plan_deletions([*_TREE_FACTS, _module_facts(PATH, new)], CONFIG)
    return {f.module_name for f in _TREE_FACTS if f.path in to_delete}


_NEEDLES = CONFIG.needles


def _draw_modules(count: int) -> list[GeneratedModule]:
    """`count` generated legacy modules, the same every run (derandomized)."""
    drawn: list[GeneratedModule] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(legacy_modules())
    def draw(module: GeneratedModule) -> None:
        drawn.append(module)

    draw()
    return drawn


def test_apply_on_a_project_of_generated_modules_is_safe(tmp_path: Path,
                                                         record_property: Callable[[str, object], None]) -> None:
    """The real runner, on disk: a project holding the legacy package tree and PROJECT_MODULES
    generated modules, migrated as one tree by `apply`. Every generated module parses, keeps its
    unrelated statements, keeps a legacy import only beside a marked manual site and never imports a
    module `apply` deleted; a second run changes nothing. (The per-module properties above run 500
    examples through the engine and the same deletion planner; this is the on-disk path end to end.)"""
    modules = _draw_modules(_examples(PROJECT_MODULES))
    project = tmp_path
    (project / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    generated = {PATH.replace("generated", f"generated_{i}"): m for i, m in enumerate(modules)}
    for rel, text in {**LEGACY_TREE, **{rel: m.source for rel, m in generated.items()}}.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    config = find_config(project)
    result = runner.run([project], config, jobs=2)
    assert not result.errors, result.errors
    applied = runner.apply_changes(result)
    assert not applied.errors, applied.errors
    assert result.migrated and result.deleted, "the generated project migrates and deletes something"

    for rel, module in generated.items():
        new = (project / rel).read_text(encoding="utf-8")
        ast.parse(new)
        for stmt in module.unrelated:
            assert stmt in new, f"{rel}: dropped {stmt!r}\n{new}"
        unmarked = "".join(line for line in new.splitlines(keepends=True) if not line.strip().startswith(MARKER_PREFIX))
        for stmt in module.ambiguous:
            assert stmt in unmarked, f"{rel}: rewrote {stmt!r}\n{new}"
        left = legacy_imports(new)
        assert not left or MARKER_PREFIX in new, f"{rel}: legacy imports left without a manual marker: {left}\n{new}"
        for node in ast.walk(ast.parse(new)):
            for module_name in _imported(node):
                if CONFIG.is_legacy_module(module_name):
                    stem = project / module_name.replace(".", "/")
                    assert stem.with_suffix(".py").exists() or (stem / "__init__.py").exists(), (
                        f"{rel}: {module_name} was deleted but is still imported:\n{new}")

    again = runner.run([project], config, jobs=2)
    assert not again.errors and not again.changes, [c.path for c in again.changes]
    assert not again.migrated
    record_property("summary", f"apply on one project of {len(modules)} generated modules: {len(result.migrated)} "
                               f"sites migrated, {len(result.manual)} manual, {len(result.deleted)} files deleted; "
                               "a second run changes nothing")


_TREE_MODULES = {rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for rel in LEGACY_TREE}


def _imported(node: ast.AST) -> list[str]:
    """Modules an import statement needs (relative imports resolved against the generated module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        parts = PACKAGE_NAME.split(".")
        parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
        base = ".".join([*parts, node.module] if node.module else parts) if node.level else node.module or ""
        subs = [f"{base}.{alias.name}" for alias in node.names]
        return [base, *(sub for sub in subs if sub in _TREE_MODULES)]
    return []


def _lone_cr(source: str) -> bool:
    """A bare CR line ending: LibCST drops a trailing one (test_bytes.py::test_cr_only_newlines_round_trip
    pins that engine bug); kept out of the properties so they can find the next one."""
    return "\r" in source.replace("\r\n", "")


@_settings(_examples(EXAMPLES))
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@given(hypothesmith.from_grammar().filter(lambda src: not any(n.decode() in src for n in _NEEDLES)))
def test_programs_without_legacy_names_are_byte_identical(source: str) -> None:
    assume(not _lone_cr(source))
    result = _migrate(source)
    assert result.new_source == source
    assert result.sites == []
    if result.error is not None:  # a program Python accepts but LibCST cannot parse: reported, untouched
        assert result.error.startswith("cannot parse"), result.error


@pytest.mark.longest  # (hypothesmith's LibCST-node strategy takes about 0.1 s to draw one example)
@_settings(_examples(EXAMPLES))
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@given(hypothesmith.from_node(cst.Module))
def test_libcst_generated_modules_are_byte_identical(source: str) -> None:
    """hypothesmith's LibCST-node programs (slow to generate: fewer examples, on top of the above)."""
    assume(not any(n.decode() in source for n in _NEEDLES) and not _lone_cr(source))
    result = _migrate(source)
    assert result.new_source == source
    assert result.sites == []
    if result.error is not None:
        assert result.error.startswith("cannot parse"), result.error


@_settings(_examples(EXAMPLES))
@given(st.data())
def test_near_misses_alone_are_byte_identical(data: st.DataObject) -> None:
    """A module of near misses only (no legacy import at all) is never touched."""
    from property_helpers.legacy_modules import _Names, near_miss, unrelated_toplevel

    names = _Names()
    bound: set[str] = set()
    parts = [*data.draw(st.lists(near_miss(names, bound), min_size=1, max_size=4))]
    chunks = ["\n".join(p) for p in parts] + data.draw(st.lists(unrelated_toplevel(names), max_size=3))
    source = "\n\n\n".join(chunks) + "\n"
    result = _migrate(source)
    assert result.error is None, result.error
    assert result.new_source == source
    assert result.sites == []
