"""The pure engine: source text in, new text and per-site outcomes out. No IO; never raises."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import re
import threading
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext

from codemods.config import Config
from codemods.rules import RULES
from codemods.rules._base import (
    CONFIG_KEY,
    INDEX_KEY,
    MARKER_PREFIX,
    SITES_KEY,
    LegacyRule,
    Site,
)

_SCRATCH_IMPORT_KEYS = ("AddImportsVisitor", "RemoveImportsVisitor")


@dataclass
class FileResult:
    """What the engine made of one file."""

    path: str
    source: str
    new_source: str
    sites: list[Site] = field(default_factory=list)
    error: str | None = None  # the file could not be processed (it is left as it was)

    @property
    def changed(self) -> bool:
        return self.error is None and self.new_source != self.source


def _context(path: str, config: Config, index: Mapping[str, Any] | None, module_name: str | None,
             package_name: str | None) -> CodemodContext:
    scratch: dict[str, Any] = {CONFIG_KEY: config, INDEX_KEY: dict(index or {}), SITES_KEY: []}
    return CodemodContext(filename=path, full_module_name=module_name, full_package_name=package_name,
                          scratch=scratch)


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


def migrate_source(
    source: str,
    path: str = "<string>",
    *,
    config: Config | None = None,
    index: Mapping[str, Any] | None = None,
    rules: Sequence[type[LegacyRule]] | None = None,
    module_name: str | None = None,
    package_name: str | None = None,
) -> FileResult:
    """Run the rules, in registry order, over one module's text.

    `module_name`/`package_name` let relative imports resolve; `index` holds the cross-file facts
    from `collect_facts`. A file that does not parse, or that a rule fails on, comes back unchanged
    with `error` set: never a partial rewrite.
    """
    config = config or Config()
    if module_name and config.is_legacy_module(module_name):
        return FileResult(path, source, source)  # legacy definitions are deleted or kept, never rewritten
    if index is None and not _may_need_rules(source, config):
        return FileResult(path, source, source)  # run alone: only an import can bring legacy names in
    try:
        tree = _parse(source)
    except cst.ParserSyntaxError as exc:
        return FileResult(path, source, source, error=f"cannot parse: {_one_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - the engine never raises
        return FileResult(path, source, source, error=f"cannot parse: {type(exc).__name__}: {exc}")
    context = _context(path, config, index, module_name, package_name)
    rule = None
    try:
        original_code = tree.code
        code = original_code  # of `tree`
        for rule in rules if rules is not None else RULES:
            seen, reported = code, len(context.scratch[SITES_KEY])
            result = rule(context).transform_module(tree)
            for key in _SCRATCH_IMPORT_KEYS:  # each rule already ran its own import edits
                context.scratch.pop(key, None)
            if result is not tree:
                code = result.code
                if code != seen:  # (rebuilt but unchanged: keep the tree whose metadata is resolved)
                    tree = result
            if seen != original_code and len(context.scratch[SITES_KEY]) > reported:
                _to_original_lines(context.scratch[SITES_KEY], reported, seen, original_code)
        new_source = code
    except Exception as exc:  # noqa: BLE001 - a bug must never damage a file
        where = f"rule {rule.NAME}" if rule is not None else "engine"
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return FileResult(path, source, source, error=f"internal error in {where}: {detail}")
    sites = list(context.scratch[SITES_KEY])
    if new_source == original_code:  # nothing rewritten (a second run's manual sites are still reported)
        return FileResult(path, source, source, sites)
    error = _unsafe_output(source, original_code, new_source, path)
    if error:
        return FileResult(path, source, source, error=error)
    return FileResult(path, source, new_source, _place_manual_sites(sites, new_source))


_LAST_PARSE = threading.local()


def _parse(source: str) -> cst.Module:
    """`cst.parse_module`, the same tree again for the same text (trees are immutable): facts then
    migrate over one file share the tree, so its metadata and value graph are computed once."""
    last = getattr(_LAST_PARSE, "slot", None)
    if last is not None and last[0] == source:
        return last[1]
    tree = cst.parse_module(source)
    _LAST_PARSE.slot = (source, tree)
    return tree


def _legacy_words(config: Config) -> frozenset[str]:
    """Names that, imported from anywhere, may be legacy: the classes and the legacy modules' own names."""
    return frozenset({qn.rpartition(".")[2] for qn in config.legacy_names}
                     | {m.rpartition(".")[2] for m in config.legacy_modules})


def _may_need_rules(source: str, config: Config) -> bool:
    """False when, without cross-file facts, no rule can have work in this text: it imports nothing
    that may be legacy (nor the target), and holds no marker and no commented-out legacy import.

    Every rule matches by qualified name, i.e. through an import, so a file run alone that only
    *mentions* a legacy name (a docstring, an unrelated class, "AWS::...::PolicyStore" in a data
    table) is left alone before the (expensive) LibCST parse and metadata. With an index (the
    runner) every candidate goes through the rules: the facts may make an import-free file's
    functions receive records from other files. A file `ast` cannot parse goes on to LibCST,
    which reports it (or parses syntax newer than this Python).
    """
    if MARKER_PREFIX.strip() in source:
        return True
    words = _legacy_words(config)
    if re.search(r"#\s*(?:from|import)\s[^\n]*\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\b", source):
        return True  # a commented-out legacy import
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(config.is_legacy_module(a.name) or set(a.name.split(".")) & words for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if config.is_legacy_module(module) or set(module.split(".")) & words or module == config.target:
                return True  # (the target import: legacy_imports keeps its names sorted)
            if any(a.name in words or a.name == "*" for a in node.names):
                return True
    return False


def _to_original_lines(sites: list[Site], first: int, seen: str, original: str) -> None:
    """Sites[first:] were reported on `seen` (what earlier rules made); give them `original` lines."""
    opcodes = difflib.SequenceMatcher(None, original.splitlines(), seen.splitlines(), autojunk=False).get_opcodes()
    for k in range(first, len(sites)):
        site = sites[k]
        for tag, i1, _i2, j1, j2 in opcodes:
            if j1 < site.line <= j2:  # 1-based line inside this block of `seen`
                line = i1 + (site.line - j1) if tag == "equal" else i1 + 1
                sites[k] = dataclasses.replace(site, line=line)
                break


def _unsafe_output(source: str, original_code: str, new_source: str, path: str) -> str | None:
    """Why a rewritten text must not be written, or None when it is safe."""
    if original_code != source:  # e.g. a bare CR ending the file: LibCST would change unrelated bytes
        return "cannot rewrite: LibCST does not reproduce this file byte for byte; left untouched"
    try:
        compile(new_source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        try:
            compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as original:  # syntax this Python does not know (LibCST parses newer grammar)
            return f"cannot parse: this Python cannot compile it: {_one_line(original)}"
        return f"internal error: the rewritten text does not compile: {_one_line(exc)}"
    return None


def collect_facts(
    source: str,
    path: str,
    *,
    config: Config | None = None,
    rules: Sequence[type[LegacyRule]] | None = None,
    module_name: str | None = None,
    package_name: str | None = None,
) -> dict[str, list[Any]]:
    """Cross-file facts one file contributes, by rule name (see `LegacyRule.collect`). Never raises."""
    config = config or Config()
    try:
        tree = _parse(source)
    except Exception:  # noqa: BLE001 - reported by migrate_source
        return {}
    facts: dict[str, list[Any]] = {}
    context = _context(path, config, None, module_name, package_name)
    for rule in rules if rules is not None else RULES:
        try:
            found = rule.collect(tree, context)
        except Exception:  # noqa: BLE001 - no facts is the safe answer: the rule then goes manual
            found = []
        if found:
            facts.setdefault(rule.NAME, []).extend(found)
    return facts


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
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, node.module] if node.module else parts)


def imported_modules(source: str, module_name: str, is_package: bool) -> set[str]:
    """Every module a file imports (relative imports resolved; `from a import b` yields a and a.b)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    package = module_name if is_package else module_name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = import_base(node, package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
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


def plan_deletions(facts: Sequence[ModuleFacts], config: Config,
                   legacy_tests: Iterable[str] = (), extra: Iterable[str] = ()) -> tuple[set[str], dict[str, set[str]]]:
    """Which files to delete, and which legacy files must stay (with the files that still need them).

    Candidates are the files of legacy modules, test files that only test legacy classes, and the
    configured `delete` files. A candidate stays while any file that stays imports it; repeat
    until nothing changes (a kept legacy module keeps the legacy modules it imports).
    """
    module_files = {f.module_name: f.path for f in facts}
    candidates = {f.path for f in facts if config.is_legacy_module(f.module_name)}
    candidates |= set(legacy_tests) | set(extra)
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
    return candidates, kept
