"""The pure engine: source text in, new text and per-site outcomes out. No IO; never raises.

One file: one `Analysis` (parse, scopes, one walk), every rule plans its edits on it, one pass applies
them, then the imports (see codemods.edits and codemods.imports). Cross-file facts come from
`collect_facts` over every file, merged by `merge_facts`, and are solved once per file's analysis.
"""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.solution import solve_index
from codemods.config import Config
from codemods.edits import Outcome, apply_edits, apply_more
from codemods.imports import Bindings, additions, missing
from codemods.legacy import MARKER_PREFIX, LegacyNames, relative_module
from codemods.literals import restore, shrink
from codemods.rules import RULES
from codemods.rules._rule import Rule


@dataclass(frozen=True)
class Site:
    """One place a rule migrated, or left for a person (`outcome == "manual"`)."""

    path: str
    line: int
    column: int
    rule: str
    outcome: str  # "migrated" | "manual"
    message: str


@dataclass
class FileResult:
    """What the engine made of one file."""

    path: str
    source: str
    new_source: str
    sites: list[Site] = field(default_factory=list)
    error: str | None = None  # the file could not be processed (it is left as it was)
    checked: ast.Module | None = field(default=None, repr=False, compare=False)  # new_source's AST, as compiled

    @property
    def changed(self) -> bool:
        return self.error is None and self.new_source != self.source


def analyse(source: str, path: str = "<string>", *, config: Config | None = None, index: Mapping[str, Any] | None = None,
            module_name: str | None = None, package_name: str | None = None) -> Analysis | FileResult:
    """The file's one analysis, or the FileResult that says why it cannot be analysed (it does not
    parse; never raises)."""
    reduced, stand_ins = shrink(source)  # big constant literals stay out of the LibCST tree
    try:
        analysis = Analysis(reduced, path, config=config or Config(), module=module_name, package=package_name,
                            index=index)
        analysis.original, analysis.stand_ins = source, stand_ins
        return analysis
    except cst.ParserSyntaxError as exc:
        return FileResult(path, source, source, error=f"cannot parse: {_one_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - the engine never raises
        return FileResult(path, source, source, error=f"cannot parse: {type(exc).__name__}: {exc}")


def migrate_source(
    source: str,
    path: str = "<string>",
    *,
    config: Config | None = None,
    index: Mapping[str, Any] | None = None,
    rules: Sequence[type[Rule]] | None = None,
    module_name: str | None = None,
    package_name: str | None = None,
) -> FileResult:
    """Run the rules over one module's text.

    `module_name`/`package_name` let relative imports resolve; `index` holds the cross-file facts
    (`collect_facts` of every file, merged); without one the file is taken alone, and nothing that
    crosses a file boundary is migrated. A file that does not parse, or that a rule fails on, comes
    back unchanged with `error` set: never a partial rewrite.
    """
    config = config or Config()
    if module_name and LegacyNames(config).is_legacy_module(module_name):
        return FileResult(path, source, source)  # legacy definitions are deleted or kept, never rewritten
    if index is None and not may_need_rules(source, config):
        return FileResult(path, source, source)  # run alone: only an import can bring legacy names in
    analysis = analyse(source, path, config=config, index=index, module_name=module_name, package_name=package_name)
    if isinstance(analysis, FileResult):
        return analysis
    return migrate_analysis(analysis, rules)


def migrate_analysis(analysis: Analysis, rules: Sequence[type[Rule]] | None = None) -> FileResult:
    """Run the rules over an analysis (see `migrate_source`; the analysis knows the index)."""
    source, path = analysis.original, analysis.path
    if analysis.module and analysis.names.is_legacy_module(analysis.module):
        return FileResult(path, source, source)
    planner: Rule | None = None
    try:
        planners = [rule() for rule in (RULES if rules is None else rules)]
        edits = []
        for planner in planners:
            edits.extend(planner.plan(analysis))
        planner = None
        outcome = _finish(analysis, planners, apply_edits(analysis, edits))
        new_source = outcome.module.code if outcome.module is not analysis.tree else analysis.source
        sites = _sites(analysis, outcome, path)
        if analysis.stand_ins:
            restored = restore(new_source, analysis.stand_ins)
            if restored is None:
                return FileResult(path, source, source, error="internal error: a rewrite reached a constant literal")
            new_source = restored
    except Exception as exc:  # noqa: BLE001 - a bug must never damage a file
        where = f"rule {planner.NAME}" if planner is not None else "engine"
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return FileResult(path, source, source, error=f"internal error in {where}: {detail}")
    if new_source == source:  # nothing rewritten (a second run's manual sites are still reported, at their markers)
        return FileResult(path, source, source, _place_manual_sites(sites, source))
    error, checked = _unsafe_output(analysis.source, analysis.tree.code, new_source, path)
    if error:
        return FileResult(path, source, source, error=error)
    return FileResult(path, source, new_source, _place_manual_sites(sites, new_source), checked=checked)


def _finish(analysis: Analysis, planners: Sequence[Rule], first: Outcome) -> Outcome:
    """The import stage: the rules' import decisions, imports every reference of which is gone, and the
    imports the applied edits need."""
    bindings = Bindings(analysis, first)
    edits = []
    for planner in planners:
        edits.extend(planner.plan_imports(analysis, bindings))
    for binding in bindings.items:
        if binding.gone and not bindings.is_dropped(binding) and bindings.present(binding.node):
            bindings.drop(binding)
    edits.extend(bindings.edits())
    dropped = set(bindings.dropped)
    wanted = missing(analysis, first.imports, bindings, dropped)
    merge, statements, after = additions(analysis, wanted, "imports") if wanted else ([], [], None)
    edits.extend(merge)
    if not edits and not statements:
        return first
    return apply_more(analysis, first, edits, statements, after)


def _sites(analysis: Analysis, outcome: Outcome, path: str) -> list[Site]:
    found = []
    for applied in outcome.sites:
        line, column = analysis.position(applied.node)
        found.append(Site(path, line, column, applied.rule, applied.outcome, applied.message))
    return sorted(found, key=lambda s: (s.line, s.column))


def _marker_lines(text: str) -> dict[str, list[int]]:
    """Marker text -> the 1-based lines of the statements they stand above, in order."""
    found: dict[str, list[int]] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(MARKER_PREFIX):
            below = number + 1
            while below <= len(lines) and lines[below - 1].strip().startswith(MARKER_PREFIX):
                below += 1
            found.setdefault(stripped[len(MARKER_PREFIX):], []).append(below)
    return found


def _place_manual_sites(sites: list[Site], new_source: str) -> list[Site]:
    """Manual sites report the line of their marked statement in the NEW text (where a person goes)."""
    markers = _marker_lines(new_source)
    placed = []
    for site in sites:
        lines = markers.get(" ".join(site.message.split())) if site.outcome == "manual" else None
        if lines:
            site = Site(site.path, lines.pop(0), site.column, site.rule, site.outcome, site.message)
        placed.append(site)
    return placed


def may_need_rules(source: str, config: Config) -> bool:
    """False when, without cross-file facts, no rule can have work in this text: it imports nothing
    that may be legacy (nor the target), and holds no marker and no commented-out legacy import.

    Every rule matches by qualified name, i.e. through an import, so a file run alone that only
    *mentions* a legacy name (a docstring, an unrelated class, "AWS::...::PolicyStore" in a data
    table) is left alone before the (expensive) LibCST parse. A file `ast` cannot parse goes on to
    LibCST, which reports it (or parses syntax newer than this Python).
    """
    if MARKER_PREFIX.strip() in source:
        return True
    names = LegacyNames(config)
    words = names.words()
    if re.search(r"#\s*(?:from|import)\s[^\n]*\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\b", source):
        return True  # a commented-out legacy import
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(names.is_legacy_module(a.name) or set(a.name.split(".")) & words for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if names.is_legacy_module(module) or set(module.split(".")) & words or module == config.target:
                return True  # (the target import: legacy_imports keeps its names sorted)
            if any(a.name in words or a.name == "*" for a in node.names):
                return True
    return False


def _unsafe_output(source: str, original_code: str, new_source: str, path: str) -> tuple[str | None, ast.Module | None]:
    """Why a rewritten text must not be written (None when it is safe), and its AST (what was compiled:
    the runner reads the new imports from it instead of parsing the text again)."""
    if original_code != source:  # e.g. a bare CR ending the file: LibCST would change unrelated bytes
        return "cannot rewrite: LibCST does not reproduce this file byte for byte; left untouched", None
    try:
        return None, compile(new_source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        try:
            compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as original:  # syntax this Python does not know (LibCST parses newer grammar)
            return f"cannot parse: this Python cannot compile it: {_one_line(original)}", None
        return f"internal error: the rewritten text does not compile: {_one_line(exc)}", None


def collect_facts(
    source: str,
    path: str,
    *,
    config: Config | None = None,
    rules: Sequence[type[Rule]] | None = None,
    module_name: str | None = None,
    package_name: str | None = None,
    index: Mapping[str, Any] | None = None,
) -> dict[str, list[Any]]:
    """Cross-file facts one file contributes, by index section. Never raises.

    `index` may already hold what the analysis needs to read the file right (the tree's re-exports)."""
    analysis = analyse(source, path, config=config, index=index or {}, module_name=module_name,
                       package_name=package_name)
    return {} if isinstance(analysis, FileResult) else facts_of(analysis, rules)


FACTS_ERRORS = "facts_errors"  # index section: what went wrong collecting a file's facts (never merged)


def facts_of(analysis: Analysis, rules: Sequence[type[Rule]] | None = None) -> dict[str, list[Any]]:
    """What an analysis contributes to the index (see `collect_facts`). Never raises."""
    try:
        module = analysis.module
        legacy = bool(module) and analysis.names.is_legacy_module(module or "")
        facts: dict[str, list[Any]] = {} if legacy else {"graphs": [analysis.graph]}  # (never rewritten)
    except Exception:  # noqa: BLE001 - reported by migrate_analysis
        return {}
    for rule in RULES if rules is None else rules:
        try:
            found = rule.facts(analysis)
        except Exception as exc:  # noqa: BLE001 - the runner reports it and leaves the file as it is
            facts.setdefault(FACTS_ERRORS, []).append(f"internal error in {rule.NAME} (facts): {_one_line(exc)}")
            continue
        for section, items in found.items():
            facts.setdefault(section, []).extend(items)
    return facts


def migrate_tree(files: Sequence[tuple[str, str, str | None, str | None]], *, config: Config | None = None,
                 rules: Sequence[type[Rule]] | None = None) -> list[FileResult]:
    """Migrate a whole (small) tree in this process, as the runner does without its IO and processes:
    each file `(source, path, module name, package name)` analysed once, the facts of all merged,
    every file migrated with the merged index, the tree solved once."""
    config = config or Config()
    analyses = [analyse(source, path, config=config, index={}, module_name=module, package_name=package)
                for source, path, module, package in files]
    base = {"reexports": sorted({r for a in analyses if isinstance(a, Analysis) for r in a.reexports})}
    for a in analyses:
        if isinstance(a, Analysis):
            a.see(base)  # (before the walk: which names are legacy depends on the tree's re-exports)
    index = merge_facts(facts_of(a, rules) for a in analyses if isinstance(a, Analysis))
    solved = solve_index(index)
    out = []
    for (source, path, module, _), analysis in zip(files, analyses):
        if isinstance(analysis, FileResult) or (module and analysis.names.is_legacy_module(module)):
            out.append(analysis if isinstance(analysis, FileResult) else FileResult(path, source, source))
            continue
        analysis.see(index, solved)
        out.append(migrate_analysis(analysis, rules))
    return out


def merge_facts(per_file: Iterable[Mapping[str, list[Any]]]) -> dict[str, list[Any]]:
    """One index from every file's facts."""
    index: dict[str, list[Any]] = {}
    for facts in per_file:
        for name, items in facts.items():
            index.setdefault(name, []).extend(items)
    return index


def _one_line(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()


# -- deletion planning ------------------------------------------------------------------------------

def import_base(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a `from ... import` names, relative levels resolved against `package`."""
    found = relative_module(node.level, node.module, package or None)
    return found if found is not None else (node.module or "")


def imported_modules(source: str, module_name: str, is_package: bool) -> set[str]:
    """Every module a file imports (see `modules_of`); a file `ast` cannot parse imports nothing."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    return modules_of(tree, module_name, is_package)


_DOTTED_STRING = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def modules_of(tree: ast.AST, module_name: str, is_package: bool) -> set[str]:
    """Every module a file imports (relative imports resolved; `from a import b` yields a and a.b),
    and every dotted name passed as a string to a call (`importlib.import_module("a.b")`,
    `mock.patch("a.b.C")`): deleting that module would break it too."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = import_base(node, package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            found.update(arg.value for arg in node.args if isinstance(arg, ast.Constant) and
                         isinstance(arg.value, str) and _DOTTED_STRING.fullmatch(arg.value))
    return found


@dataclass(frozen=True)
class ModuleFacts:
    """What deletion planning needs to know about one Python file of the tree."""

    path: str
    module_name: str
    imports: frozenset[str]  # modules it imports AFTER migration
    is_test: bool = False


def _importers(module_files: Mapping[str, str], facts: Iterable[ModuleFacts]) -> dict[str, set[str]]:
    """file -> the files that import it (a module, or a package through its __init__)."""
    importers: dict[str, set[str]] = {}
    for fact in facts:
        for module in fact.imports:
            parts = module.split(".")
            for end in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                target = module_files.get(".".join(parts[:end]))
                if target and target != fact.path:
                    importers.setdefault(target, set()).add(fact.path)
    return importers


def plan_deletions(facts: Sequence[ModuleFacts], config: Config, legacy_tests: Iterable[str] = (),
                   extra: Iterable[str] = (), frozen: Iterable[str] = ()) -> tuple[set[str], dict[str, set[str]]]:
    """Which files to delete, and which legacy files must stay (with the files that still need them).

    Candidates are the files of legacy modules, test files that only test legacy classes, and the
    configured `delete` files. A candidate stays while any file that stays imports it; repeat
    until nothing changes (a kept legacy module keeps the legacy modules it imports).
    """
    module_files = {f.module_name: f.path for f in facts}
    tests = set(legacy_tests)
    candidates = {f.path for f in facts if config.is_legacy_module(f.module_name)} | tests | set(extra)
    candidates -= set(frozen)  # files outside the run's paths: read, never deleted (they keep what they import)
    importers = _importers(module_files, facts)
    kept: dict[str, set[str]] = {}
    changed = True
    while changed:
        changed = False
        for path in sorted(candidates):
            still = {p for p in importers.get(path, set()) if p not in candidates}
            if still:
                candidates.discard(path)
                kept[path] = still
                changed = True
    # a test file that only tests legacy modules stays, as it is, while every module it tests stays
    legacy = {f.path for f in facts if config.is_legacy_module(f.module_name)}
    tested: dict[str, set[str]] = {}
    for path, users in importers.items():
        for user in users & tests if path in legacy else ():
            tested.setdefault(user, set()).add(path)
    for test in sorted(tests & candidates):
        if tested.get(test) and all(module in kept for module in tested[test]):
            candidates.discard(test)
    return candidates, kept
