"""`tinyckpt-migrate check`: every legacy reference left in a tree, for CI.

The scanner is pure: `check_source(source, path, config, module_name=None) -> list[Finding]`
(standard `ast`, not LibCST: it only reads). It never raises: a file that does not parse comes
back as ONE finding with code TCK900, which `run_check` counts as a file that could not be
processed (exit 2). Findings are matched by qualified name (where a name was imported from), so
a codebase's own class that happens to be called `PolicyStore` is never reported.

Codes (stable; `CODES` below has the same table):

| code   | what is left |
| ------ | ------------ |
| TCK001 | an import of a legacy module or name (any form: lazy, `TYPE_CHECKING`, relative, re-export, `import a.b as c`) |
| TCK002 | a use of a name bound from a legacy import (aliases and `module.attr` access too; `__all__` entries) |
| TCK003 | a dynamic import of a legacy module (`importlib.import_module(...)`, `__import__(...)`) |
| TCK004 | a dotted legacy path in a string constant (`"metta.agent.policy_store.PolicyStore"`) |
| TCK005 | a legacy name in a string annotation (`"Optional[PolicyRecord]"`) |
| TCK006 | a method call on an instance of a legacy class (`store = PolicyStore(); store.policy_record(u)`) |
| TCK007 | a legacy module still present (reported once, at line 1 of the file that defines it) |
| TCK008 | a commented-out legacy import (`# from metta.agent.policy_store import PolicyStore`) |
| TCK100 | a manual-migration marker left (`# tinyckpt-migrate: manual: ...`) |
| TCK200 | a legacy name in documentation (Markdown / reStructuredText; only with `--docs`) |
| TCK900 | a file that could not be read, decoded or parsed (never suppressed or baselined) |

Suppression: a comment `# noqa: TCK002` (several codes, comma-separated; a prefix such as `TCK`
or `TCK00` covers every code it starts) on the line of the finding (for a string spanning lines,
such as a docstring, also on the line the string ends on). A bare `# noqa` or another
tool's codes (`# noqa: F401`, common on legacy imports) do NOT suppress. In docs any `noqa: TCK200`
text on the line counts (`<!-- noqa: TCK200 -->`). `--no-suppressions` ignores them all.

Which files are parsed: every Python file under the paths is read and counts in
`files_scanned`; only those whose bytes can hold a legacy reference (a legacy module's last name,
the marker text; or, once the tree is known to re-export legacy names, those names) or that are
legacy modules themselves are parsed. A file that cannot be read or decoded, or a parsed file
that does not parse, is a TCK900; a file with no legacy text is never parsed, so a syntax error
in it is not ours to report.

The command (options, report, exit codes) is codemods.check_command; formats and baselines are
codemods.check_formats.
"""  # noqa: TCK004 (documents the legacy paths it matches)

from __future__ import annotations

import ast
import bisect
import functools
import hashlib
import io
import os
import re
import tokenize
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codemods.config import Config
from codemods.legacy import MARKER_PREFIX, LegacyNames, prefilter_for, relative_module

CODES: dict[str, str] = {
    "TCK001": "import of a legacy module or name",
    "TCK002": "use of a legacy name",
    "TCK003": "dynamic import of a legacy module",
    "TCK004": "legacy dotted path in a string",
    "TCK005": "legacy name in a string annotation",
    "TCK006": "call on an instance of a legacy class",
    "TCK007": "legacy module still present",
    "TCK008": "commented-out legacy import",
    "TCK100": "manual migration marker left",
    "TCK200": "legacy name in documentation",
    "TCK900": "file could not be read or parsed",
}
ERROR_CODE = "TCK900"
DOC_SUFFIXES = (".md", ".markdown", ".rst")


@dataclass(frozen=True, order=True)
class Finding:
    """One legacy reference: where (1-based line and column), which code, which legacy name."""

    path: str
    line: int
    column: int
    code: str
    name: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "code": self.code,
                "name": self.name, "message": self.message}


# -- text helpers ----------------------------------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the line breaks Python counts (not str.splitlines' \f, \x1c, ...)


def _split_lines(source: str) -> list[str]:
    return _LINE_BREAK.split(source)


_NOQA = re.compile(r"noqa\s*:\s*([A-Za-z]+[0-9]*(?:\s*,\s*[A-Za-z]+[0-9]*)*)", re.IGNORECASE)


def _noqa_codes(text: str) -> list[str]:
    """Our codes (or prefixes) a `noqa: ...` in `text` lists; other tools' codes are ignored."""
    if "noqa" not in text.lower():
        return []
    codes = [c.strip().upper() for match in _NOQA.finditer(text) for c in match.group(1).split(",")]
    return [c for c in codes if c.startswith("TCK")]


def suppressed(finding: Finding, comment: str) -> bool:
    """True when `comment` (the comments on the finding's line) has a `noqa` covering its code."""
    if finding.code == ERROR_CODE:
        return False
    return any(finding.code.startswith(c) for c in _noqa_codes(comment))


def _dotted_pattern(config: Config) -> re.Pattern[str]:
    """Legacy module paths (longest first), with any dotted tail: `metta.agent.policy_store.X.y`."""  # noqa: TCK004 (documents the legacy paths it matches)
    modules = sorted(config.legacy_modules, key=lambda m: (-len(m), m))
    body = "|".join(re.escape(m) for m in modules) or r"(?!x)x"
    return re.compile(rf"(?<![\w.])(?:{body})(?:\.[A-Za-z_]\w*)*(?!\w)")


def _names_pattern(config: Config) -> re.Pattern[str]:
    """Docs: legacy module paths (dotted tail included) or legacy class / re-export names."""
    modules = sorted(config.legacy_modules, key=lambda m: (-len(m), m))
    names = {qn.rpartition(".")[2] for qn in config.legacy_names} | set(config.legacy_names.values())
    alternatives = [rf"(?:{re.escape(m)})(?:\.[A-Za-z_]\w*)*" for m in modules]
    alternatives += [re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n))]
    return re.compile(rf"(?<![\w.])(?:{'|'.join(alternatives) or '(?!x)x'})(?!\w)")


_PATTERNS: dict[int, tuple[Config, re.Pattern[str], re.Pattern[str]]] = {}


def _patterns(config: Config) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The two regexes, built once per Config object (Config holds a dict: not hashable)."""
    cached = _PATTERNS.get(id(config))
    if cached is None or cached[0] is not config:
        if len(_PATTERNS) > 32:
            _PATTERNS.clear()
        cached = _PATTERNS[id(config)] = (config, _dotted_pattern(config), _names_pattern(config))
    return cached[1], cached[2]


# -- scopes ----------------------------------------------------------------------------------------

class _Scope:
    """Names bound in one scope: by imports (name -> qualified name) and by anything else."""

    __slots__ = ("globals", "imports", "kind", "local", "nonlocals", "owner", "parent", "self_name")

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind = kind  # "module" | "function" | "class"
        self.parent = parent
        self.imports: dict[str, str] = {}
        self.local: set[str] = set()
        self.globals: set[str] = set()  # `global` declarations: bound in the module scope
        self.nonlocals: set[str] = set()  # `nonlocal` declarations: bound in an enclosing scope
        self.self_name: str | None = None  # a method's first parameter
        self.owner: _Scope | None = None  # the class scope a method belongs to


@dataclass
class _Ref:
    """A name or `name.attr.attr` chain to resolve once every binding of the file is known."""

    scope: _Scope
    name: str
    attrs: tuple[str, ...]
    line: int
    col: int  # byte offset (ast), converted to a 1-based character column when reported
    code: str
    context: str = ""  # the string annotation, or "__all__"
    end_line: int = 0  # for a string annotation: the line its string ends on


class _Scanner(ast.NodeVisitor):
    """One pass over the tree: bindings per scope, references to resolve, instance sources."""

    def __init__(self, config: LegacyNames, package: str | None, report: Any) -> None:
        self.config = config
        self.package = package
        self.report = report  # report(line, col, code, name, message)
        self.module = _Scope("module", None)
        self.scope = self.module
        self.refs: list[_Ref] = []
        self.dynamic: list[tuple[_Scope, ast.expr, ast.Constant, str | None]] = []
        self.instance_sources: list[tuple[_Scope, str, str, Any]] = []  # (scope, kind, target, source)
        self.instance_calls: list[tuple[_Scope, str, str, str, ast.Call]] = []  # (scope, kind, target, method)
        self.consumed: set[int] = set()  # string constants already handled (no TCK004 for them)
        self.string_annotations: list[tuple[ast.Constant, int, int]] = []  # (string, refs[start:end])
        self.returns: dict[tuple[int, str], ast.expr] = {}  # (scope id, function name) -> return annotation
        self.dotted, _ = _patterns(config.config)

    # -- bindings ----------------------------------------------------------------------------------
    def _bind(self, name: str, qualified: str | None = None, scope: _Scope | None = None) -> None:
        scope = scope or self.scope
        if name in scope.nonlocals:
            return
        if name in scope.globals:
            scope = self.module
        if qualified is not None:
            scope.imports[name] = qualified
        else:
            scope.local.add(name)

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    # -- imports -----------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(alias.asname, alias.name)
            else:
                first = alias.name.partition(".")[0]
                self._bind(first, first)
            if self.config.is_legacy_module(alias.name):
                self.report(alias.lineno, alias.col_offset, "TCK001", alias.name,
                            f"import of legacy module {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = relative_module(node.level, node.module, self.package)
        if module is None:  # a relative import without a known package: cannot be matched
            for alias in node.names:
                if alias.name != "*":
                    self._bind(alias.asname or alias.name)
            return
        legacy_module = self.config.is_legacy_module(module)
        for alias in node.names:
            if alias.name == "*":
                if legacy_module:
                    for qn in self.config.names:
                        if qn.rpartition(".")[0] == module:
                            self._bind(qn.rpartition(".")[2], qn)
                    self.report(alias.lineno, alias.col_offset, "TCK001", f"{module}.*",
                                f"star import of legacy module {module}")
                continue
            qualified = f"{module}.{alias.name}" if module else alias.name
            self._bind(alias.asname or alias.name, qualified)
            legacy_class = self.config.legacy_class(qualified)
            if legacy_class:
                what = f"legacy {legacy_class}" if legacy_class == alias.name else f"legacy {alias.name} ({legacy_class})"
                self.report(alias.lineno, alias.col_offset, "TCK001", qualified, f"import of {what} from {module}")
            elif legacy_module or self.config.is_legacy_module(qualified):
                self.report(alias.lineno, alias.col_offset, "TCK001", qualified,
                            f"import of {alias.name} from legacy module {module}"
                            if legacy_module else f"import of legacy module {qualified}")

    # -- scopes ------------------------------------------------------------------------------------
    def _visit_arguments(self, args: ast.arguments) -> list[ast.arg]:
        """Defaults and annotations run in the enclosing scope; returns every parameter."""
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)
        params = [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []),
                  *args.kwonlyargs, *([args.kwarg] if args.kwarg else [])]
        for param in params:
            if param.annotation is not None:
                self._annotation(param.annotation)
        return params

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        params = self._visit_arguments(node.args)
        if node.returns is not None:
            self._annotation(node.returns)
        self._bind(node.name)
        enclosing = self.scope
        if node.returns is not None:  # `def open_run(...) -> SimpleCheckpointManager`: calls make instances
            self.returns[(id(enclosing), node.name)] = node.returns
        scope = _Scope("function", enclosing)
        for param in params:
            scope.local.add(param.arg)
            if param.annotation is not None:
                self.instance_sources.append((scope, "name", param.arg, ("annotation", enclosing, param.annotation)))
        positional = [*node.args.posonlyargs, *node.args.args]
        plain = not any(isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod") for d in node.decorator_list)
        if enclosing.kind == "class" and positional and plain:
            scope.self_name, scope.owner = positional[0].arg, enclosing
        self.scope = scope
        for statement in node.body:
            self.visit(statement)
        self.scope = enclosing

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        params = self._visit_arguments(node.args)
        enclosing = self.scope
        self.scope = _Scope("function", enclosing)
        self.scope.local.update(p.arg for p in params)
        self.visit(node.body)
        self.scope = enclosing

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expr)
        self._bind(node.name)
        enclosing = self.scope
        self.scope = _Scope("class", enclosing)
        for statement in node.body:
            self.visit(statement)
        self.scope = enclosing

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        enclosing = self.scope
        self.scope = _Scope("function", enclosing)
        for number, generator in enumerate(node.generators):
            self.visit(generator.target)
            if number:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                self.visit(getattr(node, part))
        self.scope = enclosing

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    # -- other bindings ----------------------------------------------------------------------------
    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest)
        self.generic_visit(node)

    # -- references --------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.refs.append(_Ref(self.scope, node.id, (), node.lineno, node.col_offset, "TCK002"))
        else:
            self._bind(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attrs: list[str] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            attrs.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            self.refs.append(_Ref(self.scope, base.id, tuple(reversed(attrs)), node.lineno, node.col_offset, "TCK002"))
        else:
            self.visit(base)

    # -- annotations (string ones parsed) ----------------------------------------------------------
    def _annotation(self, node: ast.expr, scope: _Scope | None = None) -> None:
        scope = scope or self.scope
        saved, self.scope = self.scope, scope
        try:
            self._annotation_in_scope(node)
        finally:
            self.scope = saved

    def _annotation_in_scope(self, node: ast.expr) -> None:
        for child in ast.walk(node):
            if isinstance(child, ast.Constant) and isinstance(child.value, str):
                self._string_annotation(child)
        self.visit(node)

    def _string_annotation(self, constant: ast.Constant) -> None:
        """Parse a string annotation; its names resolve in the current scope, reported in the string."""
        if id(constant) in self.consumed:
            return
        self.consumed.add(id(constant))
        before = len(self.refs)
        for chain in _annotation_chains(constant.value):
            self.refs.append(_Ref(self.scope, chain[0], chain[1:], constant.lineno, constant.col_offset, "TCK005",
                                  constant.value, constant.end_lineno or constant.lineno))
        # A legacy path in it is reported as TCK005 when it resolves, else as TCK004 (see _check).
        self.string_annotations.append((constant, before, len(self.refs)))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)
        self._instance_target(node.target, ("annotation", self.scope, node.annotation))
        if self.scope.kind == "class" and isinstance(node.target, ast.Name):  # a dataclass / pydantic field
            self.instance_sources.append((self.scope, "attr", node.target.id, ("annotation", self.scope, node.annotation)))
        if node.value is not None:
            self._instance_target(node.target, ("value", self.scope, node.value))
            self.visit(node.value)
        self.visit(node.target)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._instance_target(target, ("value", self.scope, node.value))
        if self.scope is self.module and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            self._all_entries(node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if self.scope is self.module and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            self._all_entries(node.value)
        self.generic_visit(node)

    def _all_entries(self, value: ast.expr) -> None:
        if isinstance(value, (ast.List, ast.Tuple)):
            for element in value.elts:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    self.consumed.add(id(element))
                    self.refs.append(_Ref(self.module, element.value, (), element.lineno, element.col_offset,
                                          "TCK002", "__all__"))

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._instance_target(item.optional_vars, ("value", self.scope, item.context_expr))
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def _instance_target(self, target: ast.expr, source: tuple[str, _Scope, ast.expr]) -> None:
        if isinstance(target, ast.Name):
            self.instance_sources.append((self.scope, "name", target.id, source))
        elif self._self_attribute(target) is not None:
            owner = self._method_owner()
            if owner is not None:
                self.instance_sources.append((owner, "attr", target.attr, source))  # type: ignore[attr-defined]

    def _method_owner(self) -> _Scope | None:
        scope: _Scope | None = self.scope
        while scope is not None and scope.kind == "function":
            if scope.self_name:
                return scope.owner
            scope = scope.parent
        return None

    def _self_attribute(self, node: ast.expr) -> str | None:
        """`self.x` inside a method (or a closure in one): the attribute name."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            scope: _Scope | None = self.scope
            while scope is not None and scope.kind == "function":
                if node.value.id in scope.local and scope.self_name != node.value.id:
                    return None
                if scope.self_name == node.value.id:
                    return node.attr
                scope = scope.parent
        return None

    # -- calls: dynamic imports, casts, methods on legacy instances --------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0] if node.args else None
        if callee == "cast" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            self._string_annotation(first)
        elif isinstance(first, ast.Constant) and isinstance(first.value, str) and callee:
            # maybe importlib.import_module / __import__ under any alias: resolved once bindings are known
            package = None
            for keyword in node.keywords:
                if keyword.arg == "package" and isinstance(keyword.value, ast.Constant):
                    package = keyword.value.value if isinstance(keyword.value.value, str) else None
            if package is None and len(node.args) > 1:  # import_module(name, package)
                arg = node.args[1]
                package = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            self.consumed.add(id(first))
            self.dynamic.append((self.scope, func, first, package))
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name):
                self.instance_calls.append((self.scope, "name", func.value.id, func.attr, node))
            else:
                attr = self._self_attribute(func.value)
                owner = self._method_owner() if attr is not None else None
                if owner is not None and attr is not None:
                    self.instance_calls.append((owner, "attr", attr, func.attr, node))
        self.generic_visit(node)

    # -- strings -----------------------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self.consumed:
            self._dotted_string(node)

    def _dotted_string(self, node: ast.Constant) -> None:
        value = node.value
        if "." not in value:
            return
        for match in self.dotted.finditer(value):
            text = match.group(0)
            nth = value.count(text, 0, match.start())  # the same text may occur earlier in the string
            self.report(node.lineno, node.col_offset, "TCK004", text, f"legacy path {text} in a string",
                        (text, node.end_lineno or node.lineno, nth))


def _annotation_chains(text: str, depth: int = 0) -> list[tuple[str, ...]]:
    """The outermost names / `a.b.c` chains in an annotation string (nested strings included)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    chains: list[tuple[str, ...]] = []
    todo: list[ast.AST] = [tree.body]
    while todo:
        node = todo.pop()
        chain = _chain(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if chain is not None:
            chains.append(chain)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if depth < 5:
                chains += _annotation_chains(node.value, depth + 1)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return chains


# -- resolution ------------------------------------------------------------------------------------

def _lookup(scope: _Scope, name: str, module: _Scope) -> tuple[_Scope | None, str | None]:
    """(the scope that binds `name` as seen from `scope`, its qualified name if an import bound it)."""
    current: _Scope | None = scope
    first = True
    while current is not None:
        if name in current.globals or name in current.nonlocals:
            current = module if name in current.globals else current.parent
            first = False
            continue
        if current.kind != "class" or first:
            if name in current.imports:
                return current, current.imports[name]
            if name in current.local:
                return current, None
        first = False
        current = current.parent
    return None, None


class _Resolver:
    def __init__(self, scanner: _Scanner, config: LegacyNames) -> None:
        self.scanner = scanner
        self.config = config
        self.module = scanner.module

    def qualified(self, scope: _Scope, name: str, attrs: Sequence[str]) -> str | None:
        _, qn = _lookup(scope, name, self.module)
        if qn is None:
            return None
        return ".".join([qn, *attrs])

    def legacy(self, qualified: str) -> tuple[str, str | None] | None:
        """(the legacy prefix of a dotted name, its legacy class or None for a module) or None."""
        parts = qualified.split(".")
        module_prefix = None
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            found = self.config.legacy_class(prefix)
            if found:
                return prefix, found
            if module_prefix is None and self.config.is_legacy_module(prefix):
                module_prefix = prefix
        if module_prefix is None:
            return None
        # `ps.helper`: report the module and the attribute used on it
        end = len(module_prefix.split("."))
        while end < len(parts) and self.config.is_legacy_module(".".join(parts[: end + 1])):
            end += 1
        return ".".join(parts[: end + 1]), None

    def class_of(self, scope: _Scope, expr: ast.expr, kind: str, instances: dict[Any, str]) -> str | None:
        """The legacy class an expression's value is an instance of (when we can tell)."""
        if kind == "annotation":
            expr = _unwrap_optional(expr)
            if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
                try:
                    expr = _unwrap_optional(ast.parse(expr.value.strip(), mode="eval").body)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    return None
            chain = _chain(expr)
            if chain is None:
                return None
            qn = self.qualified(scope, chain[0], chain[1:])
            return self.config.legacy_class(qn) if qn else None
        if isinstance(expr, ast.Await):
            expr = expr.value
        if isinstance(expr, ast.Call):
            chain = _chain(expr.func)
            if chain is None:
                return None
            binding, qn = _lookup(scope, chain[0], self.module)
            if qn is None:
                returns = self.scanner.returns.get((id(binding), chain[0])) if len(chain) == 1 else None
                return self.class_of(binding, returns, "annotation", instances) if returns is not None else None
            qn = ".".join([qn, *chain[1:]])
            found = self.config.legacy_class(qn)
            if found:
                return found  # LegacyClass(...)
            owner = qn.rpartition(".")[0]
            return self.config.legacy_class(owner)  # LegacyClass.create(...), .load(...), .from_dict(...)
        if isinstance(expr, ast.Name):
            binding, _ = _lookup(scope, expr.id, self.module)
            return instances.get((id(binding), "name", expr.id)) if binding is not None else None
        return None

    def instances(self) -> dict[Any, str]:
        """(binding scope id, kind, name) -> legacy class, to a fixpoint (`b = a` after `a = X()`)."""
        found: dict[Any, str] = {}
        for _ in range(4):
            before = len(found)
            for scope, kind, target, (source_kind, source_scope, expr) in self.scanner.instance_sources:
                if kind == "name":
                    binding, _ = _lookup(scope, target, self.module)
                    key = (id(binding if binding is not None else scope), "name", target)
                else:
                    key = (id(scope), "attr", target)
                if key in found:
                    continue
                cls = self.class_of(source_scope, expr, source_kind, found)
                if cls:
                    found[key] = cls
            if len(found) == before:
                break
        return found


def _unwrap_optional(expr: ast.expr) -> ast.expr:
    """`Optional[X]`, `X | None`, `Union[X, None]` -> X."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        for side, other in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(other, ast.Constant) and other.value is None:
                return _unwrap_optional(side)
    if isinstance(expr, ast.Subscript):
        chain = _chain(expr.value)
        if chain and chain[-1] == "Optional":
            return _unwrap_optional(expr.slice)
        if chain and chain[-1] == "Union" and isinstance(expr.slice, ast.Tuple):
            rest = [e for e in expr.slice.elts if not (isinstance(e, ast.Constant) and e.value is None)]
            if len(rest) == 1:
                return _unwrap_optional(rest[0])
    return expr


def _chain(expr: ast.expr) -> tuple[str, ...] | None:
    attrs: list[str] = []
    while isinstance(expr, ast.Attribute):
        attrs.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        return (expr.id, *reversed(attrs))
    return None


# -- comments: markers and commented-out imports ---------------------------------------------------

_MARKER = re.compile(r"#\s*" + re.escape(MARKER_PREFIX[1:].strip()) + r"\s*(.*)")
_COMMENTED_IMPORT = re.compile(r"#+\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w., ()*]+)|import\s+([\w.]+))")


def _comments(source: str, lines: list[str]) -> Iterable[tuple[int, int, str]]:
    """(line, 0-based column, text) of every comment; tokenize, or a line scan if that fails."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.start[1], token.string
        return
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            yield number, len(line) - len(stripped), stripped


_COMMENT_CANDIDATE = re.compile(r"#[ \t#]*(?:tinyckpt-migrate|from\b|import\b)[^\r\n]*")


def _comment_findings(source: str, config: LegacyNames, package: str | None, report: Any) -> None:
    """Manual markers (TCK100) and commented-out legacy imports (TCK008).

    A regex finds the few candidates; only when one looks legacy is the file tokenized, to keep
    just those that are real comments (not text inside a string)."""
    hits: list[tuple[int, str, str, str]] = []  # (offset, code, name, message)
    for match in _COMMENT_CANDIDATE.finditer(source):
        text = match.group(0)
        marker = _MARKER.match(text)
        if marker:
            hits.append((match.start(), "TCK100", "manual-marker",
                         f"manual migration marker left: {marker.group(1).strip()}"))
            continue
        imported = _COMMENTED_IMPORT.match(text)
        if not imported:
            continue
        module = imported.group(1) if imported.group(1) is not None else imported.group(3)
        if module and module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            module = relative_module(level, module.lstrip(".") or None, package) or ""
        names = [n.strip(" ()") for n in (imported.group(2) or "").split(",")]
        legacy = [module] if module and config.is_legacy_module(module) else []
        legacy += [f"{module}.{n}" for n in names if n and config.is_legacy_module(f"{module}.{n}")]
        if legacy:
            hits.append((match.start(), "TCK008", legacy[0], f"commented-out import of legacy module {legacy[0]}"))
    if not hits:
        return
    starts = [0] + [m.end() for m in _LINE_BREAK.finditer(source)]
    lines = _split_lines(source)
    real = {(line, col) for line, col, _ in _comments(source, lines)}
    for offset, code, name, message in hits:
        line = bisect.bisect_right(starts, offset)
        col = offset - starts[line - 1]
        if (line, col) in real:
            report(line, len(lines[line - 1][:col].encode("utf-8")), code, name, message)


# -- the scanner -----------------------------------------------------------------------------------

def _package_of(path: str, module_name: str | None) -> str | None:
    if not module_name:
        return None
    if os.path.basename(path) in ("__init__.py", "__init__.pyi"):
        return module_name
    return module_name.rpartition(".")[0] or None


def check_source(source: str, path: str = "<string>", config: Config | None = None,
                 module_name: str | None = None, *, suppressions: bool = True,
                 reexports: Mapping[str, str] | None = None) -> list[Finding]:
    """Every legacy reference in one Python module's text, sorted by position. Never raises.

    `module_name` (dotted) resolves relative imports and tells whether the file IS a legacy module
    (TCK007). With `suppressions`, findings on a line with a matching `# noqa: TCK...` are dropped.
    `reexports` (qualified name -> legacy class) adds names other modules re-export (see
    `find_reexports`). A file that does not parse yields a single TCK900 finding.
    """
    return scan_source(source, path, config, module_name, suppressions=suppressions, reexports=reexports)[0]


def scan_source(source: str, path: str = "<string>", config: Config | None = None,
                module_name: str | None = None, *, suppressions: bool = True,
                reexports: Mapping[str, str] | None = None) -> tuple[list[Finding], dict[str, str]]:
    """`check_source`, plus the module-level imports that may re-export a legacy name
    ({local name: qualified name}, for `find_reexports`). Never raises."""
    config = config or Config()
    exports: dict[str, str] = {}
    try:
        return _check(source, path, LegacyNames(config, reexports), module_name, suppressions, exports), exports
    except Exception as exc:  # noqa: BLE001 - a scanner bug must be a report, not a crash
        return [Finding(path, 1, 1, ERROR_CODE, "internal-error",
                        f"internal error while checking: {type(exc).__name__}: {exc}")], exports


def find_reexports(config: Config, exports: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Names that modules of the tree re-export from legacy modules, transitively.

    `exports`: module name -> its module-level imports {local name: qualified name}. Returns
    {"<module>.<name>": legacy class} for every such name not already in the Config.
    """
    found: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for module, names in exports.items():
            if config.is_legacy_module(module):
                continue  # a legacy module's names are in the Config already (or are not legacy)
            for name, qualified in names.items():
                key = f"{module}.{name}"
                cls = config.legacy_class(qualified) or found.get(qualified)
                if cls and key not in found and not config.legacy_class(key):
                    found[key] = cls
                    changed = True
    return found


def _check(source: str, path: str, config: LegacyNames, module_name: str | None, suppressions: bool,
           exports: dict[str, str]) -> list[Finding]:
    source = source.removeprefix("\ufeff")
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        return [Finding(path, line, max(exc.offset or 1, 1), ERROR_CODE, "syntax-error",
                        f"cannot parse: {exc.msg}")]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [Finding(path, 1, 1, ERROR_CODE, "syntax-error", f"cannot parse: {type(exc).__name__}: {exc}")]

    lines = _split_lines(source)
    raw: list[_Raw] = []

    def report(line: int, col: int, code: str, name: str, message: str,
               find: tuple[str, int, int] | None = None) -> None:
        raw.append((line, col, code, name, message, find))

    if module_name and config.is_legacy_module(module_name):
        report(1, 0, "TCK007", module_name, f"legacy module {module_name} is still present")

    scanner = _Scanner(config, _package_of(path, module_name), report)
    scanner.visit(tree)
    resolver = _Resolver(scanner, config)
    tails = {qn.rpartition(".")[2] for qn in config.names}
    exports.update((name, qn) for name, qn in scanner.module.imports.items()
                   if name in tails or qn.rpartition(".")[2] in tails)

    annotation_hits: set[int] = set()
    for index, ref in enumerate(scanner.refs):
        qn = resolver.qualified(ref.scope, ref.name, ref.attrs)
        hit = resolver.legacy(qn) if qn else None
        if hit is None:
            continue
        legacy_name, legacy_class = hit
        annotation_hits.add(index)
        base_parts = len(qn.split(".")) - len(ref.attrs)  # parts of the import's qualified name
        spelled = ".".join((ref.name, *ref.attrs[: max(0, len(legacy_name.split(".")) - base_parts)]))
        what = f"legacy {legacy_class}" if legacy_class else "legacy module"
        find = None
        if ref.code == "TCK005":
            message = f"{what} ({legacy_name}) in string annotation {ref.context!r}"
            find = (spelled, ref.end_line, 0)
        elif ref.context == "__all__":
            message = f"{what} ({legacy_name}) re-exported in __all__"
        elif legacy_class:
            message = f"use of {what}" if spelled == legacy_class else \
                f"use of {what} ({spelled})" if spelled == legacy_name else f"use of {what} ({spelled} is {legacy_name})"
        else:
            message = f"use of legacy module {legacy_name.rpartition('.')[0] or legacy_name} ({spelled})"
        report(ref.line, ref.col, ref.code, legacy_name, message, find)

    for constant, start, end in scanner.string_annotations:  # unresolved: still a dotted path?
        if not any(i in annotation_hits for i in range(start, end)):
            scanner._dotted_string(constant)

    for scope, func, constant, package in scanner.dynamic:
        chain = _chain(func)
        qn = resolver.qualified(scope, chain[0], chain[1:]) if chain else None
        builtin = chain == ("__import__",) and _lookup(scope, "__import__", scanner.module)[0] is None
        if builtin or qn in ("importlib.import_module", "importlib.__import__", "builtins.__import__"):
            target = constant.value
            if target.startswith(".") and package:
                level = len(target) - len(target.lstrip("."))
                target = relative_module(level, target.lstrip(".") or None, package) or target
            if config.is_legacy_module(target) or config.legacy_class(target):
                report(constant.lineno, constant.col_offset, "TCK003", target,
                       f"dynamic import of legacy module {target}", (constant.value, constant.end_lineno or 0, 0))
                continue
        scanner._dotted_string(constant)

    if scanner.instance_calls:
        instances = resolver.instances()
        for scope, kind, target, method, call in scanner.instance_calls:
            if kind == "name":
                binding, qn = _lookup(scope, target, scanner.module)
                if binding is None or qn is not None:
                    continue
                cls = instances.get((id(binding), "name", target))
                spelled = target
            else:
                cls = instances.get((id(scope), "attr", target))
                spelled = f"self.{target}"
            if cls:
                report(call.lineno, call.col_offset, "TCK006", f"{cls}.{method}",
                       f"call {spelled}.{method}() on a legacy {cls} instance")

    _comment_findings(source, config, scanner.package, report)

    noqa: dict[int, str] = {}
    if suppressions and raw and "noqa" in source:  # only real comments count, not text in strings
        for line, _, text in _comments(source, lines):
            noqa[line] = noqa.get(line, "") + text
    return _finish(raw, lines, path, noqa)


# line, byte col, code, name, message, find: (text in a string, the line the string ends on, occurrence)
_Raw = tuple[int, int, str, str, str, "tuple[str, int, int] | None"]


def _finish(raw: list[_Raw], lines: list[str], path: str, comments: Mapping[int, str]) -> list[Finding]:
    """Byte offsets -> 1-based character columns (strings: at the match), dedupe, noqa, sort."""
    seen: set[tuple[int, int, str, str]] = set()
    out: list[Finding] = []
    for line, col, code, name, message, find in raw:
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        column = _char_column(text, col)
        comment = ""
        if find:  # a string constant: point at the text inside it when it is spelled out there
            comment = comments.get(find[1], "")  # a noqa after a multi-line string covers all of it
            line, column = _locate(lines, line, column, *find)
        key = (line, column, code, name)
        if key in seen:
            continue
        seen.add(key)
        finding = Finding(path, line, column + 1, code, name, message)
        if suppressed(finding, comments.get(line, "") + comment):
            continue
        out.append(finding)
    return sorted(out, key=lambda f: (f.line, f.column, f.code, f.name))


def _char_column(line: str, byte_offset: int) -> int:
    if line.isascii():
        return byte_offset
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))


def _locate(lines: list[str], line: int, column: int, text: str, end_line: int, nth: int = 0) -> tuple[int, int]:
    """Where the `nth` occurrence of `text` is in a string constant that starts at (line, column)
    and ends on `end_line`; the string's start when it is not spelled out as such (escapes,
    implicit concatenation)."""
    start = column
    for number in range(line, min(len(lines), max(end_line, line)) + 1):
        at = lines[number - 1].find(text, start)
        while at >= 0:
            if nth == 0:
                return number, at
            nth -= 1
            at = lines[number - 1].find(text, at + 1)
        start = 0
    return line, column


# -- docs ------------------------------------------------------------------------------------------

def check_doc(text: str, path: str, config: Config | None = None, *, suppressions: bool = True) -> list[Finding]:
    """Legacy class names and module paths in Markdown / reStructuredText (plain text search)."""
    config = config or Config()
    _, pattern = _patterns(config)
    out = []
    for number, line in enumerate(_split_lines(text), start=1):
        for match in pattern.finditer(line):
            finding = Finding(path, number, match.start() + 1, "TCK200", match.group(0),
                              f"legacy name {match.group(0)} in documentation")
            if suppressions and suppressed(finding, line):
                continue
            out.append(finding)
    return out


# -- files and the command -------------------------------------------------------------------------

def _error(path: str, reason: str) -> Finding:
    return Finding(path, 1, 1, ERROR_CODE, "unreadable", reason)


def _line_text(source: str, line: int) -> str:
    lines = _split_lines(source)
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _may_be_legacy_module(path: str, config: Config) -> bool:
    """Cheap: only a file named like a legacy module (or inside a legacy package) can be one."""
    parts = path.replace(os.sep, "/").removesuffix(".py").removesuffix(".pyi").split("/")
    return not prefilter_for(config).tails.isdisjoint(parts)


def scan_python_file(path: str, config: Config, suppressions: bool, reexports: Mapping[str, str] | None = None,
                     ) -> tuple[list[tuple[Finding, str]], dict[str, str], str | None, bool]:
    """Worker: read one file; scan it if it can hold legacy code. Returns its (finding, baseline
    fingerprint) pairs, its module-level imports of legacy-looking names (see `scan_source`), its
    module name (None: not parsed) and whether it was left for later (a "weak" candidate, see
    `codemods.legacy.Prefilter`: scanned only when `reexports` names something it contains). Never raises."""
    from codemods.files import SourceError, decode_source, module_name_for, read_bytes

    try:
        data = read_bytes(path)
    except SourceError as exc:
        return [(_error(path, str(exc)), "")], {}, "", False
    kind = prefilter_for(config).classify(data)
    if kind == "weak" and not (reexports and any(n.rpartition(".")[2].encode() in data for n in reexports)):
        return [], {}, None, True
    if not kind and not _may_be_legacy_module(path, config):
        return [], {}, None, False
    try:
        module_name = module_name_for(path, config)
    except (OSError, ValueError):
        module_name = ""
    if not kind and not config.is_legacy_module(module_name):
        return [], {}, None, False
    try:
        source, _ = decode_source(data)
    except SourceError as exc:
        return [(_error(path, str(exc)), "")], {}, module_name, False
    findings, exports = scan_source(source, path, config, module_name or None, suppressions=suppressions,
                                    reexports=reexports)
    lines = _split_lines(source.removeprefix("\ufeff")) if findings else []
    pairs = [(f, fingerprint(f, lines[f.line - 1] if 0 < f.line <= len(lines) else "")) for f in findings]
    return pairs, exports, module_name, False


def scan_doc_file(path: str, config: Config, suppressions: bool) -> list[tuple[Finding, str]]:
    from codemods.files import SourceError, read_bytes

    try:
        text = read_bytes(path).decode("utf-8", "replace").removeprefix("\ufeff")
    except SourceError as exc:
        return [(_error(path, str(exc)), "")]
    return [(f, fingerprint(f, _line_text(text, f.line))) for f in check_doc(text, path, config, suppressions=suppressions)]


Progress = Callable[[str, int], Callable[[int], None]]  # (stage, total) -> advance(n): cli._ProgressBar


def scan_paths(paths: Sequence[str | os.PathLike[str]], config: Config, *, suppressions: bool = True,
               docs: bool = False, jobs: int | None = None,
               progress: Progress | None = None) -> tuple[list[tuple[Finding, str]], int]:
    """(findings with their fingerprints, files scanned) for a tree; paths in findings as walked.

    Every Python file is read in the workers (`jobs` processes when there are many); only files
    that pass the byte prefilter (`codemods.legacy.Prefilter`), or that are legacy modules, are parsed. When
    modules of the tree re-export legacy names (`from metta.rl import SimpleCheckpointManager`
    through `metta/rl/__init__.py`), the candidates are scanned again knowing those names, until
    no new re-export turns up.
    FileNotFoundError for a path that does not exist.
    """
    from codemods.files import iter_python_files, parallel_map

    # A document named explicitly is never parsed as Python (it is one of `--docs`' files).
    files = [os.fspath(f) for f in iter_python_files(list(paths), config) if f.suffix.lower() not in DOC_SUFFIXES]
    results: list[tuple[Finding, str]] = []
    scan = functools.partial(scan_python_file, config=config, suppressions=suppressions)
    advance = progress("checking", len(files)) if progress else None
    done = dict(zip(files, parallel_map(scan, files, jobs=jobs, progress=advance)))  # read, prefilter, parse
    reexports: dict[str, str] = {}
    while True:
        exports = {module: found[1] for found in done.values() if (module := found[2]) and found[1]}
        found_now = find_reexports(config, exports)
        if found_now == reexports:
            break
        # names re-exported by the tree's own modules: scan again every file that may use them
        reexports = found_now
        again = [path for path, found in done.items() if found[2] is not None or found[3]]
        scan = functools.partial(scan_python_file, config=config, suppressions=suppressions, reexports=reexports)
        done.update(zip(again, parallel_map(scan, again, jobs=jobs)))
    for found in done.values():
        results.extend(found[0])
    scanned = len(files)
    if docs:
        doc_files = [f for f in iter_python_files(list(paths), config, suffixes=DOC_SUFFIXES)
                     if f.suffix.lower() in DOC_SUFFIXES]
        scanned += len(doc_files)
        for doc in doc_files:
            results.extend(scan_doc_file(os.fspath(doc), config, suppressions))
    return results, scanned


def fingerprint(finding: Finding, line_text: str) -> str:
    """Line-number free: the code, the legacy name and the finding's line with whitespace collapsed."""
    normalized = " ".join(line_text.split())
    return hashlib.sha256(f"{finding.code}\0{finding.name}\0{normalized}".encode()).hexdigest()[:20]
