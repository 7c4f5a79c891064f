"""What every rule shares: legacy matching by qualified name, site reports, manual markers."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence, Union

import libcst as cst
from libcst.codemod import Codemod, CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider, QualifiedNameSource

from codemods.config import Config

MARKER_PREFIX = "# tinyckpt-migrate: manual: "

# context.scratch keys the engine fills in (a rule run alone, e.g. by `python -m libcst.tool codemod`,
# falls back to the default configuration and to no cross-file facts).
CONFIG_KEY = "tinyckpt.config"
INDEX_KEY = "tinyckpt.index"
SITES_KEY = "tinyckpt.sites"


@dataclass(frozen=True)
class Site:
    """One place a rule migrated, or left for a person (`outcome == "manual"`)."""

    path: str
    line: int
    column: int
    rule: str
    outcome: str  # "migrated" | "manual"
    message: str


def shared_wrapper(tree: cst.Module) -> MetadataWrapper:
    """The MetadataWrapper of `tree`, shared by every rule and fact collector that sees this same tree.

    LibCST gives each codemod its own wrapper (a deep copy of the tree, then every provider resolved
    again): sixteen rules over one file paid for the same scope analysis sixteen times. Here the
    facts pass and every rule that gets the tree unchanged (the engine hands the same tree on when a
    rule rebuilt it without a change) reuse the metadata already resolved; a changed tree gets a new
    wrapper. A rule visits `wrapper.module`, the wrapper's own copy of `tree`, as LibCST's codemods
    do. One slot per thread: the engine works on one file at a time.
    """
    given, wrapper = getattr(_SHARED, "slot", (None, None))
    if wrapper is not None and (tree is given or tree is wrapper.module):
        return wrapper
    wrapper = MetadataWrapper(tree)
    _SHARED.slot = (tree, wrapper)
    return wrapper


_SHARED = threading.local()


class Kind:
    """`kind(node)` is `isinstance(node, classes)`, remembered per node type.

    LibCST's node classes are ABCs: each isinstance goes through ABCMeta.__instancecheck__, and the
    rules ask it for every node of every file they visit (millions of calls per run).
    """

    def __init__(self, *classes: type) -> None:
        self.classes = classes
        self._known: dict[type, bool] = {}

    def __call__(self, node: object) -> bool:
        known = self._known.get(type(node))
        if known is None:
            known = self._known[type(node)] = isinstance(node, self.classes)
        return known


class NoFieldVisits:
    """Mixin for a CSTVisitor/CSTTransformer that defines no `visit_<Node>_<field>` / `leave_<Node>_<field>`
    method: LibCST then skips looking one up, by name, for every field of every node it walks (millions
    of lookups per run). A subclass that defines one gets LibCST's dispatch back."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for klass in cls.__mro__ if not klass.__module__.startswith("libcst") for name in vars(klass)]
        if any(re.fullmatch(r"(?:visit|leave)_[A-Z]\w*?_[a-z]\w*", name) for name in own):  # (LibCST's are stubs)
            base = cst.CSTTransformer if issubclass(cls, cst.CSTTransformer) else cst.CSTVisitor
            cls.on_visit_attribute = base.on_visit_attribute  # type: ignore[method-assign]
            cls.on_leave_attribute = base.on_leave_attribute  # type: ignore[method-assign]

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        return None

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        return None


STATEMENT = Kind(cst.SimpleStatementLine, cst.BaseCompoundStatement)
_IF = Kind(cst.If)
_MODULE = Kind(cst.Module)


def marker(reason: str) -> str:
    """The one-line marker comment for a manual site."""
    return MARKER_PREFIX + " ".join(reason.split())


def resolve_relative(name: str, package: str | None) -> str:
    """`..x.Y` seen from package `a.b.c` -> `a.b.x.Y`; absolute names pass through."""
    if not name.startswith("."):
        return name
    dots = len(name) - len(name.lstrip("."))
    if not package:
        return name.lstrip(".")
    parts = package.split(".")
    base = parts[: len(parts) - (dots - 1)] if dots > 1 else parts
    rest = name[dots:]
    return ".".join([*base, rest]) if rest else ".".join(base)


_Statement = Union[cst.SimpleStatementLine, cst.BaseCompoundStatement]


class LegacyRule(NoFieldVisits, VisitorBasedCodemodCommand):
    """Base class of every rule.

    Subclasses set `NAME` (equal to their module name) and `DESCRIPTION`, then call
    `self.legacy_class(node)` to match, `self.migrated(node, message)` for each rewrite and
    `self.manual(node, reason)` for each site a person must decide. A manual site's statement is
    left exactly as it was (rewrites this rule made inside that simple statement are dropped), with
    one marker comment above it; the marker is never duplicated.
    """

    NAME: ClassVar[str] = ""
    METADATA_DEPENDENCIES: ClassVar[Sequence[Any]] = (QualifiedNameProvider, PositionProvider)

    def __init__(self, context: CodemodContext) -> None:
        # ContextAwareTransformer.__init__ without MatcherDecoratableTransformer's: no rule uses the
        # matcher decorators (@m.visit, @m.call_if_inside, ...), and gathering them inspects every
        # attribute of the instance, about 20 ms per rule per file. on_visit/on_leave below skip the
        # decorator dispatch for the same reason.
        Codemod.__init__(self, context)
        cst.CSTTransformer.__init__(self)
        self.config: Config = context.scratch.get(CONFIG_KEY) or Config()
        self._statements: list[_Statement] = []
        self._markers: dict[int, list[str]] = {}
        self._header: tuple[cst.CSTNode | None, set[str]] = (None, set())  # (first statement, header comments)

    @contextmanager
    def _handle_metadata_reference(self, module: cst.Module) -> Iterator[cst.Module]:
        # Codemod's own version, with the wrapper shared across rules (`shared_wrapper`).
        wrapper = shared_wrapper(module)
        previous = self.context.wrapper
        with self.resolve(wrapper):
            self.context = dataclasses.replace(self.context, wrapper=wrapper)
            try:
                yield wrapper.module
            finally:
                self.context = dataclasses.replace(self.context, wrapper=previous)

    # -- cross-file facts -------------------------------------------------------------------------
    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """Facts this file contributes to the cross-file index (picklable). Default: none.

        The engine runs `collect` over every candidate file first; `self.index[NAME]` then holds
        every file's facts for this rule. Wrap `tree` in a `MetadataWrapper` if you need metadata.
        """
        return []

    @property
    def index(self) -> dict[str, Any]:
        """Facts gathered over the whole tree before this file is transformed (empty when run alone)."""
        return self.context.scratch.get(INDEX_KEY) or {}

    # -- matching ---------------------------------------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Qualified names of an imported name or attribute, relative imports resolved."""
        try:
            names = self.get_metadata(QualifiedNameProvider, node, set())
        except KeyError:
            return set()
        package = self.context.full_package_name
        return {resolve_relative(q.name, package) for q in names if q.source is QualifiedNameSource.IMPORT}

    def legacy_class(self, node: cst.CSTNode) -> str | None:
        """The legacy class `node` refers to (by where it was imported from), else None. None too when
        the name may also mean something that is not legacy (the module imports it twice, from a legacy
        module and from another): which one a use means is for a person to decide (legacy_imports marks
        the legacy import)."""
        classes = [self.known_class(name) for name in sorted(self.qualified_names(node))]
        return None if not classes or None in classes else classes[0]

    def known_class(self, qualified: str) -> str | None:
        """The legacy class a qualified name is, else None."""
        return self.config.legacy_class(qualified)

    # -- reporting --------------------------------------------------------------------------------
    def _site(self, node: cst.CSTNode, outcome: str, message: str) -> None:
        try:
            pos = self.get_metadata(PositionProvider, node).start
            line, column = pos.line, pos.column + 1
        except KeyError:  # a node this rule built itself
            line, column = 0, 0
        site = Site(self.context.filename or "<string>", line, column, self.NAME, outcome, message)
        self.context.scratch.setdefault(SITES_KEY, []).append(site)

    def migrated(self, node: cst.CSTNode, message: str) -> None:
        """Record a rewrite (pass the ORIGINAL node, so the position is known)."""
        self._site(node, "migrated", message)

    def manual(self, node: cst.CSTNode, reason: str) -> None:
        """Record a site a person must decide; its enclosing statement gets a marker."""
        self._site(node, "manual", reason)
        if self._statements:
            reasons = self._markers.setdefault(id(self._statements[-1]), [])
            if reason not in reasons:
                reasons.append(reason)

    # -- statement tracking and markers -----------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        if STATEMENT(node) and not self._is_elif(node):
            self._statements.append(node)
        elif _MODULE(node) and node.body:  # type: ignore[attr-defined]
            # The comments above a module's first statement are the module's header to LibCST: a marker
            # placed there by an earlier run is found there (not in the statement's leading_lines).
            self._header = (node.body[0], {line.comment.value for line in node.header if line.comment})  # type: ignore[attr-defined]
        return cst.CSTTransformer.on_visit(self, node)

    def _is_elif(self, node: cst.CSTNode) -> bool:
        parent = self._statements[-1] if self._statements else None
        return _IF(node) and _IF(parent) and parent.orelse is node  # type: ignore[union-attr]

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        result = cst.CSTTransformer.on_leave(self, original_node, updated_node)
        if self._statements and self._statements[-1] is original_node:
            self._statements.pop()
            reasons = self._markers.pop(id(original_node), None)
            if reasons:
                if isinstance(original_node, cst.SimpleStatementLine):
                    result = original_node  # never half-rewrite a manual statement
                first, header = self._header
                result = self._with_markers(result, reasons, header if original_node is first else set())
        return result

    @staticmethod
    def _with_markers(node: Any, reasons: list[str], header: set[str]) -> Any:
        target = node.nodes[0] if isinstance(node, cst.FlattenSentinel) else node
        if not isinstance(target, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node  # removed: nothing left to mark
        existing = header | {line.comment.value for line in target.leading_lines if line.comment}
        new_lines = [cst.EmptyLine(comment=cst.Comment(m)) for m in map(marker, reasons) if m not in existing]
        if not new_lines:
            return node
        marked = target.with_changes(leading_lines=[*target.leading_lines, *new_lines])
        if isinstance(node, cst.FlattenSentinel):
            return cst.FlattenSentinel([marked, *node.nodes[1:]])
        return marked

    @staticmethod
    def has_marker(node: _Statement) -> bool:
        """True when a statement already carries a manual marker (from this or an earlier run)."""
        return any(line.comment and line.comment.value.startswith(MARKER_PREFIX) for line in node.leading_lines)
