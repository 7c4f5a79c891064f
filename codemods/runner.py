"""The file runner: walk, prefilter, collect facts, migrate, plan deletions, and write (for `apply`).

Layer two of three (engine -> runner -> cli): bytes, encodings, parallelism and the file system
live here; the rewriting itself is `codemods.engine`, the printing `codemods.cli`/`codemods.diffing`.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from codemods.analysis import Analysis
from codemods.analysis.graph import Graph
from codemods.analysis.solution import Solution, legacy_touching, solve_index
from codemods.config import Config, find_config
from codemods.engine import (
    FACTS_ERRORS,
    FileResult,
    ModuleFacts,
    Site,
    analyse,
    facts_of,
    import_base,
    imported_modules,
    merge_facts,
    migrate_analysis,
    modules_of,
    plan_deletions,
)
from codemods.files import (
    SourceError,
    decode_source,
    default_jobs,
    encode_source,
    glob_regex,
    is_package_file,
    iter_python_files,
    module_name_for,
    parallel_map,
    project_root,
    read_bytes,
    write_atomic,
)
from codemods.legacy import is_test_file, prefilter_for, reexports_of
from codemods.rules import RULES
from codemods.rules._rule import Rule
from codemods.workers import Local, Pool

#: The `rule` of the manual site reported for a legacy module that must stay for now.
KEEP_RULE = "delete_legacy_modules"

Progress = Callable[[str, int], Callable[[int], None]]  # (stage, total) -> advance(n)


@dataclass
class Change:
    """One file the migration rewrites (`new_text`) or deletes (`new_text is None`)."""

    path: str  # as shown to the user (relative to the current directory when below it)
    file: str  # as walked (for IO)
    old_text: str
    new_text: str | None
    encoding: str
    old_bytes: bytes
    mode: int = 0o100644

    @property
    def deleted(self) -> bool:
        return self.new_text is None


class FileError(NamedTuple):
    """A file that could not be processed (it is left byte-identical), and where, when known."""

    path: str
    message: str
    line: int = 1
    column: int = 1


def _parse_error_position(text: str, message: str) -> tuple[int, int]:
    """Where a file fails to parse: Python's own parser knows best; else LibCST's `@ line:col`."""
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return exc.lineno or 1, exc.offset or 1
    except ValueError:
        pass
    found = re.search(r"@ (\d+):(\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (1, 1)


@dataclass
class RunResult:
    """Everything a `diff` or `apply` run found."""

    files_scanned: int = 0
    candidates: int = 0
    changes: list[Change] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    # Where `apply` stops removing the directories its deletions leave empty (real paths): it removes
    # only directories strictly below a directory the run was given, and never these nor a project
    # root (no roots: it removes none).
    roots: tuple[str, ...] = ()
    project_roots: tuple[str, ...] = ()  # the root of every project the run held (never removed either)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if not c.deleted]

    @property
    def deleted(self) -> list[Change]:
        return [c for c in self.changes if c.deleted]

    @property
    def manual(self) -> list[Site]:
        return [s for s in self.sites if s.outcome == "manual"]

    @property
    def migrated(self) -> list[Site]:
        return [s for s in self.sites if s.outcome == "migrated"]


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as reports show it: relative to the current directory when below it, `/`-separated."""
    text = os.fspath(path)
    if os.path.isabs(text):
        rel = os.path.relpath(text)
        if not rel.startswith(".."):
            text = rel
    else:
        text = os.path.normpath(text)
    return text.replace(os.sep, "/")


# -- per-file work (runs in worker processes: module-level, picklable arguments) -------------------

@dataclass
class _Scanned:
    file: str
    module: str
    is_package: bool
    strength: str | None = None  # the prefilter's verdict: "strong", "weak" or None (nothing legacy)
    error: str | None = None
    error_at: tuple[int, int] = (1, 1)
    imports: frozenset[str] = frozenset()  # every module it imports (`from a import b`: a and a.b)
    reexports: tuple[tuple[str, str, str], ...] = ()  # (qualified name, legacy class, source) it re-exports
    legacy_only_test: bool = False
    crude_imports: frozenset[str] = frozenset()  # for files that could not be processed
    data: bytes = b""  # a candidate's bytes, as read (every file is read once; candidates are few)

    @property
    def candidate(self) -> bool:
        return self.strength is not None


def _first_party_imports(tree: ast.Module, module: str, is_package: bool, config: Config,
                         top_levels: frozenset[str]) -> list[str]:
    """The first-party modules a file imports, `from pkg import mod` resolved to `pkg.mod` when
    that is a legacy module (so `from metta.agent import policy_store` counts as legacy)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = import_base(node, package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append(sub if alias.name != "*" and config.is_legacy_module(sub) else base)
    return [m for m in found if m.split(".")[0] in top_levels]


_CRUDE_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w, ()]+)|import\s+([\w., ]+))", re.M)


def _crude_imports(text: str) -> frozenset[str]:
    """Imports of a file that does not parse, by regex: deletion planning must still see them."""
    found: set[str] = set()
    for match in _CRUDE_IMPORT.finditer(text):
        if match.group(1):
            base = match.group(1)
            found.add(base)
            found.update(f"{base}.{n.strip(' ()')}" for n in match.group(2).split(",") if n.strip(" ()"))
        else:
            found.update(n.strip().split(" ")[0] for n in match.group(3).split(",") if n.strip())
    return frozenset(found)


def _scan(file: str, config: Config, top_levels: frozenset[str], words: re.Pattern[bytes] | None = None) -> _Scanned:
    """Read a file once and look at its bytes; a file that may hold something legacy (or, with `words`,
    that mentions one of them) is also parsed with `ast` for its imports and re-exports."""
    module = module_name_for(file, config)
    result = _Scanned(file, module, is_package_file(file))
    try:
        data = read_bytes(file)
    except SourceError as exc:
        result.error, result.error_at, result.strength = str(exc), (exc.line, exc.column), "strong"
        return result
    if words is not None:
        if words.search(data) is None:
            return result
        result.strength = "needle"
    else:
        result.strength = "strong" if config.is_legacy_module(module) else prefilter_for(config).classify(data)
        if result.strength is None:
            return result
    try:
        text, _ = decode_source(data)
    except SourceError as exc:
        result.error, result.error_at = str(exc), (exc.line, exc.column)
        result.crude_imports = _crude_imports(data.decode("latin-1"))
        result.strength = "strong"
        return result
    result.data = data
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        result.strength = "strong"  # LibCST reports it (or parses syntax newer than this Python)
        return result
    result.imports = frozenset(modules_of(tree, module, result.is_package))
    package = module if result.is_package else module.rpartition(".")[0]
    pairs = [(a.asname or a.name, f"{import_base(node, package)}.{a.name}") for node in tree.body
             if isinstance(node, ast.ImportFrom) for a in node.names if a.name != "*"]
    found = reexports_of(module, pairs, config)
    sources = dict((f"{module}.{local}", qualified) for local, qualified in pairs)
    result.reexports = tuple((q, c, sources[q]) for q, c in sorted(found.items()))
    if is_test_file(file) and not file.endswith("conftest.py"):
        first_party = _first_party_imports(tree, module, result.is_package, config, top_levels)
        result.legacy_only_test = bool(first_party) and all(config.is_legacy_module(m) for m in first_party)
    return result


@dataclass
class _Facts:
    file: str
    facts: dict[str, list[Any]] = field(default_factory=dict)
    words: tuple[str, ...] = ()  # functions and classes of a module where legacy values live
    fixtures: tuple[str, ...] = ()  # its pytest fixtures
    kept: bool = False  # the worker keeps the file (bytes and analysis) for the migrate phase


@dataclass
class _Migrated:
    file: str
    path: str
    old_bytes: bytes = b""
    old_text: str = ""
    new_text: str = ""
    encoding: str = "utf-8"
    sites: list[Site] = field(default_factory=list)
    error: str | None = None
    error_at: tuple[int, int] = (1, 1)
    imports: frozenset[str] = frozenset()
    mode: int = 0o100644


class _Item(NamedTuple):
    file: str
    path: str  # as reported
    module: str
    is_package: bool
    data: bytes | None  # None: the worker kept the file from the facts phase
    keep: bool = False  # keep it for the migrate phase (it will be migrated)
    imports: frozenset[str] = frozenset()  # what the scan found it imports (as it is)

    @property
    def package(self) -> str | None:
        return (self.module if self.is_package else self.module.rpartition(".")[0]) or None


#: Source bytes a worker keeps analysed between the phases (about 0.6 GB of memory per MB of source);
#: past it a file is analysed again when it is migrated. The first file is always kept (a single huge
#: module is analysed once).
KEEP_BYTES = 3_000_000


class Session:
    """One worker's share of a run: the facts of its files, then their migration, each file read and
    analysed once (the analysis of the facts phase is kept for the migrate phase) and the whole tree's
    solution computed once (see codemods.workers)."""

    def __init__(self, config: Config, rules: Sequence[type[Rule]], keep_bytes: int = KEEP_BYTES) -> None:
        self.config, self.rules, self.room = config, rules, keep_bytes
        self.kept: dict[str, tuple[bytes, Analysis | None]] = {}
        self._solved: tuple[Any, Solution] | None = None

    def facts(self, item: _Item, base: dict[str, list[Any]]) -> _Facts:
        result = _Facts(item.file)
        data = item.data if item.data is not None else b""
        try:
            text, _ = decode_source(data)
        except SourceError:
            return result
        analysis = analyse(text, item.file, config=self.config, index=base, module_name=item.module,
                           package_name=item.package)
        if isinstance(analysis, FileResult):
            return result  # reported by the migrate phase
        result.facts = facts_of(analysis, self.rules)
        for graph in result.facts.get("graphs", ()):
            if isinstance(graph, Graph) and legacy_touching(graph):
                top = f"{graph.module}."
                names = {q[len(top):].partition(".")[0] for q in [*graph.sigs, *graph.bases] if q.startswith(top)}
                result.words = tuple(sorted(n for n in names if n.isidentifier() and not n.startswith("__")))
                result.fixtures = tuple(sorted(graph.fixtures))
        if item.keep and (len(data) <= self.room or not self.kept):
            self.kept[item.file] = (data, analysis)
            self.room -= len(data)
            result.kept = True
        return result

    def solved(self, index: dict[str, list[Any]]) -> Solution:
        """The index's graphs solved, once per index (every file of the phase shares it)."""
        if self._solved is None or self._solved[0] is not index:
            self._solved = (index, solve_index(index))
        return self._solved[1]

    def migrate(self, item: _Item, index: dict[str, list[Any]]) -> _Migrated:
        result = _Migrated(item.file, item.path)
        data, analysis = self.kept.pop(item.file, (item.data, None))
        try:
            data = read_bytes(item.file) if data is None else data
            text, encoding = decode_source(data)
        except SourceError as exc:
            result.error, result.error_at = str(exc), (exc.line, exc.column)
            return result
        try:
            result.mode = 0o100755 if os.stat(item.file).st_mode & 0o111 else 0o100644
        except OSError:
            pass
        result.old_bytes, result.old_text, result.encoding = data, text, encoding
        if self.config.is_legacy_module(item.module):  # legacy definitions are deleted or kept, never rewritten
            outcome = FileResult(item.path, text, text)
        else:
            if analysis is None:
                analysis = analyse(text, item.path, config=self.config, index=index, module_name=item.module,
                                   package_name=item.package)
            if isinstance(analysis, FileResult):
                outcome = analysis
            else:
                analysis.path = item.path
                analysis.see(index, self.solved(index))
                outcome = migrate_analysis(analysis, self.rules)
        if outcome.error:
            result.error = outcome.error
            if outcome.error.startswith("cannot parse"):
                result.error_at = _parse_error_position(text, outcome.error)
            result.imports = _crude_imports(text)
            result.new_text = text
            return result
        result.new_text = outcome.new_source
        result.sites = outcome.sites
        if outcome.new_source == text and item.imports:
            result.imports = item.imports  # unchanged: the scan's (each text is parsed with ast once)
        elif outcome.checked is not None:
            result.imports = frozenset(modules_of(outcome.checked, item.module, item.is_package))
        else:
            result.imports = frozenset(imported_modules(outcome.new_source, item.module, item.is_package))
        return result


# -- the pipeline ----------------------------------------------------------------------------------

def select_rules(only: Iterable[str] = (), skip: Iterable[str] = (),
                 registry: Sequence[type[Rule]] | None = None) -> list[type[Rule]]:
    """The registry filtered by `--only` / `--skip` (order kept); ValueError names unknown rules."""
    registry = list(RULES if registry is None else registry)
    known = {rule.NAME for rule in registry}
    only, skip = set(only), set(skip)
    unknown = sorted((only | skip) - known)
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})")
    return [r for r in registry if (not only or r.NAME in only) and r.NAME not in skip]


def _configured_deletions(config: Config, files: Sequence[str]) -> set[str]:
    """Walked files matching a `delete` glob (relative to the project root)."""
    if not config.delete:
        return set()
    root = os.path.realpath(config.root)
    patterns = [glob_regex(p) for p in config.delete]
    found = set()
    for file in files:
        rel = os.path.relpath(os.path.realpath(file), root)
        if not rel.startswith("..") and any(p.match(rel.replace(os.sep, "/")) for p in patterns):
            found.add(file)
    return found


def _needle_candidates(scanned: Sequence[_Scanned], facts: Sequence[_Facts],
                       again: Sequence[_Scanned]) -> list[_Scanned]:
    """Files outside the candidates that call into a module where legacy values live: a file that
    mentions one of the module's function or class names AND imports that module (or, for a pytest
    fixture of a conftest, is a test file below it that mentions the fixture). Decided once: no snowball."""
    modules = {s.file: s for s in scanned}
    words: dict[str, set[str]] = {}  # word -> modules that define it
    fixtures: dict[str, list[str]] = {}  # fixture -> directories of the conftests that define it
    for f in facts:
        module = modules[f.file].module
        for word in f.words:
            words.setdefault(word, set()).add(module)
        if os.path.basename(f.file) == "conftest.py":
            for name in f.fixtures:
                fixtures.setdefault(name, []).append(os.path.dirname(os.path.abspath(f.file)))
    chosen = []
    for s in again:
        if not s.candidate or s.error:
            continue
        mentioned = set(re.findall(r"[A-Za-z_]\w*", _text_of(s.file)))
        if any(m in s.imports for w in mentioned & words.keys() for m in words[w]):
            chosen.append(s)
            continue
        here = os.path.dirname(os.path.abspath(s.file))
        if is_test_file(s.file) and any(here == d or here.startswith(d + os.sep)
                                        for name in mentioned & fixtures.keys() for d in fixtures[name]):
            chosen.append(s)
    return chosen


def _field_uses(fields: Sequence[tuple[str, str, int]], scanned: Sequence[_Scanned],
                config: Config) -> list[tuple[str, int]]:
    """(name, count) of the uses of each selector field (name, class, positional index) in the project: every
    word `name` in its Python files (legacy modules left out: they go) and its YAML, JSON and TOML files,
    plus one for each construction of the class that may fill the field positionally. Conservative: a
    coincidental use of the word counts too."""
    classes = {cls for _, cls, _ in fields}
    built = re.compile(rb"\b(" + b"|".join(re.escape(c.encode()) for c in sorted(classes)) + rb")\s*\(")
    configs = [p for pattern in ("*.yaml", "*.yml", "*.json", "*.toml") for p in Path(config.root).rglob(pattern)
               if not any(part.startswith(".") for part in p.relative_to(config.root).parts)]
    positional: dict[str, int] = {}

    def constructions(file: str, data: bytes) -> None:
        if file.endswith(".py") and built.search(data):
            for name, cls, index in fields:
                positional[name] = positional.get(name, 0) + _positional_constructions(data, cls, index)
    counts = _word_counts({name for name, _, _ in fields}, scanned, config, configs, constructions)
    return [(name, count + positional.get(name, 0)) for name, count in counts]


def _word_counts(names: set[str], scanned: Sequence[_Scanned], config: Config, extra: Sequence[Path] = (),
                 each: Callable[[str, bytes], None] | None = None) -> list[tuple[str, int]]:
    """(name, how many times the word occurs) in the project's Python files (legacy modules left out) and the
    `extra` files, each read once; `each(file, data)` sees every file read."""
    word = re.compile(rb"\b(" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b")
    counts = dict.fromkeys(names, 0)
    for file in [s.file for s in scanned if not config.is_legacy_module(s.module)] + [os.fspath(p) for p in extra]:
        try:
            data = read_bytes(file)
        except OSError:
            continue
        for m in word.finditer(data):
            counts[m.group(1).decode()] += 1
        if each is not None:
            each(file, data)
    return sorted(counts.items())


def _positional_constructions(data: bytes, cls: str, index: int) -> int:
    """How many calls of `cls` pass more than `index` positional arguments (or unpack some)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return 1
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call) and
               (getattr(node.func, "id", None) == cls or getattr(node.func, "attr", None) == cls) and
               (len(node.args) > index or any(isinstance(a, ast.Starred) for a in node.args)))


def _text_of(file: str) -> str:
    try:
        return decode_source(read_bytes(file))[0]
    except SourceError:
        return ""


def _projects(paths: Sequence[Path], config: Config) -> list[tuple[Config, list[str], list[str]]]:
    """The projects the PATHs hold, each its own import space: (its configuration, its files under the
    PATHs, its other files). A file belongs to the nearest directory above it with a pyproject.toml,
    setup.cfg, setup.py or .git (else to `config`'s root); `config` is the one of the project it names.
    The other files are read for what they import and pass around (they are never rewritten or
    deleted), so nothing outside the PATHs is left importing a deleted module or calling a changed
    function."""
    files = [os.fspath(p) for p in iter_python_files(paths, config)]
    given = os.path.realpath(config.root)
    groups: dict[str, list[str]] = {}
    for file in files:
        groups.setdefault(project_root(file) or given, []).append(file)
    out = []
    for root in sorted(groups, key=lambda r: (r != given, r)):
        project = config if root == given else replace(find_config(Path(root)), root=Path(root))
        inside = groups[root]
        covered = any(os.path.realpath(p) in (root, *_parents(root)) for p in paths or [Path(".")])
        others: list[str] = []
        if not covered and project_root(root) == root:  # a PATH below the project's root: read the rest of it
            mine = {os.path.realpath(f) for f in inside}
            others = [f for f in (os.fspath(p) for p in iter_python_files([Path(root)], project))
                      if os.path.realpath(f) not in mine and (project_root(f) or given) == root]
        out.append((project, inside, others))
    return out


def _parents(path: str) -> list[str]:
    return [str(p) for p in Path(path).parents]


def run(paths: Sequence[Path], config: Config, *, rules: Sequence[type[Rule]] | None = None,
        jobs: int | None = None, progress: Progress | None = None) -> RunResult:
    """Compute the whole migration of `paths` (nothing is written): each project they hold on its own
    (see `_projects`), the results together."""
    rules = list(RULES if rules is None else rules)
    roots = tuple(os.path.realpath(p) for p in paths or [Path(".")] if os.path.isdir(p))
    result = RunResult(roots=roots, project_roots=(os.path.realpath(config.root),))
    for project, inside, others in _projects(paths, config):
        part = _run_project(project, inside, others, rules, jobs, progress)
        result.files_scanned += part.files_scanned
        result.candidates += part.candidates
        result.changes += part.changes
        result.sites += part.sites
        result.errors += part.errors
        if os.path.realpath(project.root) not in result.project_roots:
            result.project_roots += (os.path.realpath(project.root),)
    result.sites.sort(key=lambda s: (s.path, s.line, s.column))
    result.errors.sort()
    return result


def _run_project(config: Config, inside: list[str], others: list[str], rules: Sequence[type[Rule]],
                 jobs: int | None, progress: Progress | None) -> RunResult:
    result = RunResult(files_scanned=len(inside))
    outside = set(others)
    files = [*inside, *others]
    top_levels = frozenset(module_name_for(f, config).split(".")[0] for f in files)

    tick = progress("scanning", len(files)) if progress else None
    scanned = parallel_map(partial(_scan, config=config, top_levels=top_levels), files, jobs, tick)
    reexports = sorted({r for s in scanned for r in s.reexports})
    exported = {q for q, _, _ in reexports}
    # a file that only spells legacy class names matters once it imports one some module re-exports
    chosen = [s for s in scanned if s.strength == "strong" or s.error or (s.strength == "weak" and s.imports & exported)]
    base: dict[str, list[Any]] = {"reexports": list(reexports)}
    legacy_tests = {s.file for s in chosen if s.legacy_only_test}

    def items(of: Sequence[_Scanned]) -> list[_Item]:
        # legacy modules, and tests that only test them, are legacy code: deleted or kept, never rewritten;
        # files outside the PATHs are read, never rewritten
        return [_Item(s.file, display_path(s.file), s.module, s.is_package, s.data,
                      keep=s.file not in legacy_tests and s.file not in outside and not config.is_legacy_module(s.module),
                      imports=s.imports) for s in of]

    first = items([s for s in chosen if s.error is None])
    jobs = default_jobs() if not jobs or jobs < 1 else jobs
    factory = partial(Session, config, rules)
    with (Pool(factory, jobs) if jobs > 1 and len(first) >= 8 else Local(factory)) as pool:
        tick = progress("analysing", len(first)) if progress else None
        facts = pool.run("facts", base, first, [i.file for i in first], [len(i.data or b"") for i in first], tick)
        for f in facts:  # a test that only tests legacy code is legacy code: its values are not the tree's
            if f.file in legacy_tests:
                f.facts.pop("graphs", None)
                f.words = f.fixtures = ()
        words = sorted({w for f in facts for w in (*f.words, *f.fixtures)})
        if words:  # one more look at the other files, for the words of the modules where legacy values live
            taken = {s.file for s in chosen}
            pattern = re.compile(rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in words) + rb")\b")
            rest = [s.file for s in scanned if s.file not in taken]
            again = parallel_map(partial(_scan, config=config, top_levels=top_levels, words=pattern), rest, jobs)
            more = _needle_candidates(scanned, facts, again)
            if more:
                extra = items(more)
                facts += pool.run("facts", base, extra, [i.file for i in extra], [len(i.data or b"") for i in extra])
                chosen += more
                first += extra
        failed = {f.file: f.facts.pop(FACTS_ERRORS) for f in facts if FACTS_ERRORS in f.facts}
        for file, messages in failed.items():  # reported, and the file is left as it is
            if file not in outside:
                result.errors.append(FileError(display_path(file), messages[0], 1, 1))
        index = merge_facts([base, *(f.facts for f in facts)])
        if index.get("selector_fields"):  # TCK-M102 selector-config = drop: who still uses those fields
            index["field_uses"] = _field_uses(index["selector_fields"], scanned, config)
        if index.get("record_aliases"):  # type aliases of records: who else names them
            index["alias_words"] = _word_counts(set(index["record_aliases"]), scanned, config)
        index["frozen"] = sorted({s.module for s in chosen if s.file in outside or s.file in failed})  # read, kept
        result.candidates = len([s for s in chosen if s.file not in outside])
        for s in chosen:
            if s.error and s.file not in outside:
                result.errors.append(FileError(display_path(s.file), s.error, *s.error_at))
        kept = {f.file for f in facts if f.kept}
        todo = [i._replace(data=None if i.file in kept else i.data) for i in first
                if i.file not in legacy_tests and i.file not in outside and i.file not in failed]
        tick = progress("migrating", len(todo)) if progress else None
        migrated = pool.run("migrate", index, todo, [i.file for i in todo], [len(i.data or b"") for i in todo], tick)

    by_file = {m.file: m for m in migrated}
    modules = {s.file: s for s in scanned}
    facts_of = [ModuleFacts(m.file, modules[m.file].module, m.imports, is_test_file(m.file)) for m in migrated]
    facts_of += [ModuleFacts(s.file, s.module, s.crude_imports) for s in chosen if s.error]
    facts_of += [ModuleFacts(s.file, s.module, s.imports, True) for s in chosen
                 if (s.legacy_only_test or s.file in outside or s.file in failed) and not s.error]
    tests_of_legacy = [s.file for s in chosen if s.legacy_only_test and s.error is None and s.file not in outside]
    configured = _configured_deletions(config, inside)
    to_delete, kept_modules = plan_deletions(facts_of, config, tests_of_legacy, configured, frozen=outside)

    for m in migrated:
        if m.error:
            result.errors.append(FileError(m.path, m.error, *m.error_at))
    for file in sorted(by_file.keys() | to_delete):
        m = by_file.get(file)
        if file in to_delete:
            if m is None:  # a configured deletion the prefilter skipped (or a non-Python file)
                try:
                    data = read_bytes(file)
                    text, encoding = decode_source(data)
                except SourceError as exc:
                    result.errors.append(FileError(display_path(file), f"cannot delete: {exc}"))
                    continue
                m = _Migrated(file, display_path(file), data, text, text, encoding)
            elif m.error:
                continue  # never delete a file we could not read back
            result.changes.append(Change(m.path, file, m.old_text, None, m.encoding, m.old_bytes, m.mode))
        elif m is not None and m.error is None:
            result.sites.extend(m.sites)
            if m.new_text != m.old_text:
                result.changes.append(Change(m.path, file, m.old_text, m.new_text, m.encoding, m.old_bytes, m.mode))
    for file, importers in sorted(kept_modules.items()):
        if file in outside:
            continue
        names = ", ".join(sorted(display_path(p) for p in importers))
        result.sites.append(Site(display_path(file), 1, 1, KEEP_RULE, "manual",
                                 f"legacy module kept: still imported by {names}"))
    return result


# -- writing ---------------------------------------------------------------------------------------

#: The temporary files `files.write_atomic` makes (`.<name>.<8 random>.tinyckpt-tmp`): one left behind
#: by a killed run is removed by the next `apply`, never counted as a change.
STALE_TEMP = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tinyckpt-tmp")


def vcs_status(paths: Sequence[Path]) -> set[str] | None:
    """Real paths of the files with uncommitted changes (tracked or untracked) under `paths`, per
    `git status`; None when a path is not in a git work tree (nothing could undo an `apply`)."""
    found: set[str] = set()
    for given in paths or [Path(".")]:
        directory = os.fspath(given) if os.path.isdir(given) else os.path.dirname(os.path.abspath(given))
        try:
            top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=directory, capture_output=True,
                                 timeout=60)
            if top.returncode != 0:
                return None
            out = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=all", "--",
                                  os.path.abspath(given)], cwd=directory, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            return None
        if out.returncode != 0:
            return None
        root = top.stdout.decode("utf-8", "surrogateescape").strip()
        entries = iter(out.stdout.decode("utf-8", "surrogateescape").split("\0"))
        for entry in entries:
            if len(entry) > 3 and entry[2] == " ":
                found.add(os.path.realpath(os.path.join(root, entry[3:])))
                if entry[0] in "RC":
                    next(entries, None)  # a rename's or copy's source path follows
    return found


def dirty_files(paths: Sequence[Path], result: RunResult) -> list[str] | None:
    """The files `apply` would change or delete that have uncommitted changes (display paths); None
    outside git. Unrelated changes (a review report, other work in progress) do not count."""
    status = vcs_status(paths)
    if status is None:
        return None
    return sorted(c.path for c in result.changes if os.path.realpath(c.file) in status)


def remove_stale_temps(result: RunResult) -> list[str]:
    """Remove what killed earlier runs left of their atomic writes beside the files this run changes."""
    removed = []
    for directory in sorted({os.path.dirname(os.path.abspath(c.file)) for c in result.changes}):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if STALE_TEMP.fullmatch(name) and os.path.isfile(path) and not os.path.islink(path):
                try:
                    os.unlink(path)
                except OSError:
                    continue
                removed.append(display_path(path))
    return removed


@dataclass
class Applied:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    removed_dirs: list[str] = field(default_factory=list)  # directories the deletions left empty
    skipped: list[str] = field(default_factory=list)  # deletions not done: a file failed, or an interrupt
    unwritten: list[str] = field(default_factory=list)  # rewrites not done (an interrupt)
    interrupted: int = 0  # the signal that stopped the run (0: none)


def _pyc_pattern(stems: Iterable[str]) -> re.Pattern[str]:
    """Byte-code file names Python (`x.cpython-312.pyc`, `x.cpython-312.opt-1.pyc`) or pytest's
    assertion rewriting (`test_x.cpython-312-pytest-8.3.4.pyc`) writes for these module stems."""
    names = "|".join(re.escape(s) for s in sorted(stems))
    return re.compile(rf"(?:{names})\.[a-z]+-?\d+(?:\.opt-\d+|-pytest-[\w.]+)?\.pyc")


def _only_stale_cache(directory: str, stems: set[str]) -> list[str] | None:
    """The byte-code files to remove when `directory` holds nothing but a `__pycache__` directory of
    the deleted modules' byte code (regular files only); else None."""
    cache = os.path.join(directory, "__pycache__")
    if not stems or os.listdir(directory) != ["__pycache__"] or os.path.islink(cache) or not os.path.isdir(cache):
        return None
    pattern = _pyc_pattern(stems)
    names = os.listdir(cache)
    for name in names:
        path = os.path.join(cache, name)
        if not pattern.fullmatch(name) or os.path.islink(path) or not os.path.isfile(path):
            return None
    return [os.path.join(cache, name) for name in names]


def _remove_emptied_dirs(deleted_files: Sequence[str], result: RunResult) -> list[str]:
    """Remove each directory the deletions left empty (or holding only the deleted modules'
    `__pycache__`), deepest first, up to but never including a root of the run or the project root;
    a symlink is never followed or removed, nor is a directory holding anything else. The removed
    directories, as display paths."""
    if not result.roots:
        return []
    stops = set(result.roots) | set(result.project_roots)
    inside = [r.rstrip(os.sep) + os.sep for r in result.roots]
    stems: dict[str, set[str]] = {}  # directory -> stems of the modules deleted from it
    for file in deleted_files:
        directory, name = os.path.split(os.path.abspath(file))
        stems.setdefault(directory, set()).add(os.path.splitext(name)[0])
    candidates: set[str] = set()
    for directory in list(stems):
        while directory not in candidates:
            real = os.path.realpath(directory)
            if real in stops or not any(real.startswith(r) for r in inside) or os.path.islink(directory):
                break
            candidates.add(directory)
            directory = os.path.dirname(directory)
    removed: list[str] = []
    for directory in sorted(candidates, key=lambda d: (-d.count(os.sep), d)):
        try:
            if os.path.islink(directory) or not os.path.isdir(directory):
                continue
            if os.listdir(directory):
                stale = _only_stale_cache(directory, stems.get(directory, set()))
                if stale is None:
                    continue
                for path in stale:
                    os.unlink(path)
                os.rmdir(os.path.join(directory, "__pycache__"))
            os.rmdir(directory)  # fails, and the directory stays, if anything appeared meanwhile
        except OSError:
            continue
        removed.append(display_path(directory) + "/")
    return sorted(removed)


def apply_changes(result: RunResult, stop: Callable[[], int] | None = None) -> Applied:
    """Write every rewritten file atomically, then, only if every file was read, parsed and written,
    delete what the plan deletes and remove the directories that leaves empty (`_remove_emptied_dirs`).

    A file that changed on disk since it was read is skipped and reported, never overwritten. `stop()`
    (asked between files) returns the signal that asks the run to stop, or 0: what is done stays done,
    whole, and the rest is listed (`unwritten`, `skipped`).
    """
    done = Applied()
    pending = [c for c in result.changes if not c.deleted]
    deletions = [c for c in result.changes if c.deleted]
    for n, change in enumerate(pending):
        if stop and (signum := stop()):
            done.interrupted = signum
            done.unwritten = [c.path for c in pending[n:]]
            done.skipped = [c.path for c in deletions]
            return done
        try:
            if read_bytes(change.file) != change.old_bytes:
                done.errors.append(FileError(change.path, "changed on disk during the run; left alone"))
                continue
            write_atomic(change.file, encode_source(change.new_text or "", change.encoding))
            done.written.append(change.path)
        except (SourceError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            done.errors.append(FileError(change.path, f"cannot write: {reason}"))
    if result.errors or done.errors:  # all or nothing: a module is never deleted beside a file that kept its import
        done.skipped = [c.path for c in deletions]
        return done
    deleted_files: list[str] = []
    for n, change in enumerate(deletions):
        if stop and (signum := stop()):
            done.interrupted = signum
            done.skipped = [c.path for c in deletions[n:]]
            break
        try:
            if read_bytes(change.file) != change.old_bytes:
                done.errors.append(FileError(change.path, "changed on disk during the run; not deleted"))
                continue
            os.unlink(change.file)
            done.deleted.append(change.path)
            deleted_files.append(change.file)
        except (SourceError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            done.errors.append(FileError(change.path, f"cannot delete: {reason}"))
    done.removed_dirs = _remove_emptied_dirs(deleted_files, result)
    return done
