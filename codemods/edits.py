"""Edits, and the one pass that applies them.

Rules plan `Edit`s on the original tree; `apply_edits` applies all of them in one LibCST pass that
descends only towards the edited nodes (everything else is reused as it is), then decides the
imports from what was actually applied, and applies those in a second, equally pruned pass:

- a replacement gets the node as updated by the edits inside it, and returns its new node;
- a removed statement goes with the blank lines that separated it from the statement before, kept
  on the next statement (a group of imports that becomes empty leaves one blank line: the most of
  its own and the next statement's), or with all its leading lines (`carry="all"`: comments too);
  a block left empty gets `pass`;
- a manual site leaves its statement exactly as it was (a simple statement keeps none of the edits
  inside it) and puts one marker comment above it, never twice;
- an import goes when every reference to it was in replaced code; the imports the applied edits
  need are added once, after the module's first block of imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import libcst as cst

from codemods.legacy import MARKER_PREFIX, NOTE_PREFIX, marker

if TYPE_CHECKING:
    from codemods.analysis import Analysis

Build = Callable[[Any], Any]  # updated node -> new node, cst.RemoveFromParent() or a FlattenSentinel
_Statement = Union[cst.SimpleStatementLine, cst.BaseCompoundStatement]
BLANK = cst.EmptyLine(indent=False)  # an empty line (indented, a blank line in a block would hold spaces)


@dataclass
class Edit:
    """One planned change: replace `node`, remove it (a statement), or mark its statement manual."""

    node: cst.CSTNode
    rule: str
    message: str = ""  # migrated: what became what; manual: the reason
    build: Build | None = None
    manual: bool = False
    remove: bool = False
    carry: str = "blank"  # a removed statement's leading lines kept on the next statement: "blank", "all", "none"
    imports: tuple[tuple[str, str | None], ...] = ()  # (module, name or None) the new code needs
    site: cst.CSTNode | None = None  # where the site is reported (default: `node`)
    report: bool = True  # False: part of another edit's site
    more: tuple[tuple[cst.CSTNode, str], ...] = ()  # further migrated sites of this edit (node, message)
    note: str = ""  # a comment line above the node's statement (a decision taken for it), not a manual site


def replace(node: cst.CSTNode, rule: str, message: str, build: Build, *, imports: Sequence[tuple[str, str | None]] = (),
            site: cst.CSTNode | None = None, report: bool = True,
            more: Sequence[tuple[cst.CSTNode, str]] = ()) -> Edit:
    return Edit(node, rule, message, build=build, imports=tuple(imports), site=site, report=report, more=tuple(more))


def note(node: cst.CSTNode, rule: str, text: str) -> Edit:
    """A comment above the node's statement: `# tinyckpt-migrate: decided: <text>` (nothing is frozen)."""
    return Edit(node, rule, text, note=text)


def manual(node: cst.CSTNode, rule: str, reason: str) -> Edit:
    return Edit(node, rule, reason, manual=True)


def remove(stmt: cst.CSTNode, rule: str, message: str, *, carry: str = "blank", report: bool = True) -> Edit:
    return Edit(stmt, rule, message, remove=True, carry=carry, report=report)


@dataclass(frozen=True)
class Applied:
    """A site as the engine reports it (positions of the ORIGINAL node)."""

    rule: str
    outcome: str  # "migrated" | "manual"
    message: str
    node: cst.CSTNode


@dataclass
class Outcome:
    """What one pass did: the new tree, the sites, and what the import stage needs to know."""

    module: cst.Module
    sites: list[Applied] = field(default_factory=list)
    gone: set[int] = field(default_factory=set)  # ids of ORIGINAL nodes replaced or removed
    removed: set[int] = field(default_factory=set)  # ids of ORIGINAL statements removed
    kept_names: set[str] = field(default_factory=set)  # names the replacements contain
    imports: set[tuple[str, str | None]] = field(default_factory=set)  # what the applied edits need
    results: dict[int, tuple[cst.CSTNode, Any]] = field(default_factory=dict)  # id(original) -> (original, result)


def apply_edits(analysis: Analysis, edits: Iterable[Edit]) -> Outcome:
    """Apply `edits` (planned on `analysis.tree`) in one pruned pass."""
    return _Pass(analysis, list(edits)).run(analysis.tree)


def apply_more(analysis: Analysis, first: Outcome, edits: Iterable[Edit],
               insert: Sequence[cst.SimpleStatementLine] = (), insert_after: int | None = None) -> Outcome:
    """A second pass over `first.module`: `edits` are still planned on ORIGINAL nodes; a node the first
    pass rebuilt is found through `first.results`. `insert` statements go after the ORIGINAL module
    statement at index `insert_after` (-1: at the top; None: at the end)."""
    pass_ = _Pass(analysis, list(edits), first.results, insert, insert_after)
    second = pass_.run(first.module)
    second.gone |= first.gone
    second.removed |= first.removed
    second.kept_names |= first.kept_names
    second.imports |= first.imports
    second.sites = first.sites + second.sites
    return second


class _Pass(cst.CSTTransformer):
    def __init__(self, analysis: Analysis, edits: list[Edit], results: dict[int, tuple[cst.CSTNode, Any]] | None = None,
                 insert: Sequence[cst.SimpleStatementLine] = (), insert_after: int | None = None) -> None:
        super().__init__()
        self.a = analysis
        self.insert, self.insert_after = list(insert), insert_after
        # a node of the tree this pass walks -> the ORIGINAL node it stands for (what earlier passes made)
        self.back: dict[int, cst.CSTNode] = {id(r): o for o, r in _originals(results or {})}
        self.replace: dict[int, list[Edit]] = {}
        self.removed: dict[int, Edit] = {}
        self.marks: dict[int, list[Edit]] = {}
        self.notes: dict[int, list[Edit]] = {}
        targets: list[cst.CSTNode] = []
        for edit in edits:
            if edit.note:
                stmt = analysis.statement_of(edit.node)
                if stmt is not None:
                    self.notes.setdefault(id(stmt), []).append(edit)
                    targets.append(stmt)
            elif edit.manual:
                stmt = analysis.statement_of(edit.node)
                if stmt is None:
                    continue
                self.marks.setdefault(id(stmt), []).append(edit)
                targets.append(stmt)
            elif edit.remove:
                self.removed.setdefault(id(edit.node), edit)
                targets.append(edit.node)
            else:
                self.replace.setdefault(id(edit.node), []).append(edit)
                targets.append(edit.node)
        # frozen: a manual simple statement keeps its text (nothing inside it is applied)
        self.frozen = {id(t) for t in targets if id(t) in self.marks and isinstance(t, cst.SimpleStatementLine)}
        self.spine: set[int] = set()
        for node in targets:
            current: cst.CSTNode | None = node
            while current is not None and id(current) not in self.spine:
                self.spine.add(id(current))
                current = analysis.parent(current)
        if self.insert:
            self.spine.add(id(analysis.tree))
        self.outcome = Outcome(analysis.tree)

    def run(self, module: cst.Module) -> Outcome:
        self.outcome.module = module.visit(self)  # type: ignore[assignment]
        return self.outcome

    def _original(self, node: cst.CSTNode) -> cst.CSTNode:
        return self.back.get(id(node), node)

    # -- the walk -------------------------------------------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        original = self._original(node)
        return id(original) in self.spine and id(original) not in self.frozen

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        original = self._original(original_node)
        oid = id(original)
        result: Any = updated_node
        for edit in self.replace.get(oid, ()):
            result = edit.build(result) if edit.build is not None else result
            self._applied(edit)
            self.outcome.gone.add(oid)
            if isinstance(result, cst.CSTNode):
                self.outcome.kept_names |= names_in(result)
            if not isinstance(result, cst.CSTNode) or isinstance(result, cst.FlattenSentinel):
                break
        marks = self.marks.get(oid)
        if marks:
            base = original_node if oid in self.frozen else result
            result = self._with_markers(original, base, marks)
        if oid in self.notes:
            result = self._with_notes(result, self.notes[oid])
        if isinstance(result, (cst.Module, cst.IndentedBlock)):
            result = self._body(original, result)
        self.outcome.results[oid] = (original, result)
        if isinstance(result, cst.CSTNode):
            self.back.setdefault(id(result), original)
        elif isinstance(result, cst.FlattenSentinel):
            for piece in result.nodes:
                self.back.setdefault(id(piece), original)
        return result

    def _applied(self, edit: Edit) -> None:
        if edit.report:
            self.outcome.sites.append(Applied(edit.rule, "migrated", edit.message, edit.site or edit.node))
        for node, message in edit.more:
            self.outcome.sites.append(Applied(edit.rule, "migrated", message, node))
        self.outcome.imports.update(edit.imports)

    # -- markers ------------------------------------------------------------------------------------------
    @staticmethod
    def _with_notes(node: Any, notes: list[Edit]) -> Any:
        target = node.nodes[0] if isinstance(node, cst.FlattenSentinel) else node
        if not isinstance(target, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node
        existing = {line.comment.value for line in target.leading_lines if line.comment}
        texts = list(dict.fromkeys(NOTE_PREFIX + " ".join(n.note.split()) for n in notes))
        lines = [cst.EmptyLine(comment=cst.Comment(text)) for text in texts if text not in existing]
        if not lines:
            return node
        noted = target.with_changes(leading_lines=[*target.leading_lines, *lines])
        return cst.FlattenSentinel([noted, *node.nodes[1:]]) if isinstance(node, cst.FlattenSentinel) else noted

    def _with_markers(self, original: cst.CSTNode, node: Any, marks: list[Edit]) -> Any:
        header: set[str] = set()
        module = self.a.tree
        if module.body and module.body[0] is original:  # comments above a module's first statement are its header
            header = {line.comment.value for line in module.header if line.comment}
        target = node.nodes[0] if isinstance(node, cst.FlattenSentinel) else node
        if not isinstance(target, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node  # removed: nothing left to mark
        existing = header | {line.comment.value for line in target.leading_lines if line.comment}
        lines = []
        for edit in marks:
            text = marker(edit.message)
            self.outcome.sites.append(Applied(edit.rule, "manual", edit.message, edit.node))
            if text not in existing:
                existing.add(text)
                lines.append(cst.EmptyLine(comment=cst.Comment(text)))
        if not lines:
            return node
        marked = target.with_changes(leading_lines=[*target.leading_lines, *lines])
        if isinstance(node, cst.FlattenSentinel):
            return cst.FlattenSentinel([marked, *node.nodes[1:]])
        return marked

    # -- bodies: removed statements, empty blocks, inserted imports -----------------------------------------
    def _body(self, original: cst.CSTNode, node: cst.Module | cst.IndentedBlock) -> Any:
        current = list(node.body)
        pairs = [(self._original(stmt), stmt) for stmt in current]
        removing = any(id(o) in self.removed and id(o) not in self.marks for o, _ in pairs)
        inserting = bool(self.insert) and original is self.a.tree
        if not removing and not inserting:
            return node
        order = {id(s): i for i, s in enumerate(getattr(original, "body", ()))}
        limit = len(order) if self.insert_after is None else self.insert_after
        body: list[Any] = []
        carry: list[cst.EmptyLine] = []
        inserted = not inserting
        if not inserted and self.insert_after == -1:
            body.extend(self._inserted(carry))
            carry, inserted = [], True
        for orig, stmt in pairs:
            if not inserted and order.get(id(orig), -1) > limit:
                body.extend(self._inserted(carry))
                carry, inserted = [], True
            edit = self.removed.get(id(orig))
            if edit is not None and id(orig) not in self.marks:
                self._applied(edit)
                self.outcome.gone.add(id(orig))
                self.outcome.removed.add(id(orig))
                carry = _carried(carry, orig.leading_lines, edit.carry)  # type: ignore[attr-defined]
                carry += [cst.EmptyLine(comment=cst.Comment(NOTE_PREFIX + " ".join(n.note.split())))
                          for n in self.notes.get(id(orig), ())]  # a decision that removed it says so
                continue
            if carry:
                merged = _with_leading(stmt, carry)
                if merged is not stmt:
                    self.back[id(merged)] = orig
                    self.outcome.results[id(orig)] = (orig, merged)
                stmt = merged
            body.append(stmt)
            carry = []
        if not inserted:
            body.extend(self._inserted(carry))
            carry = []
        if isinstance(node, cst.IndentedBlock) and not body:
            body, carry = [cst.SimpleStatementLine([cst.Pass()], leading_lines=carry)], []
        if any(line.comment is not None for line in carry):  # the last statement went, its comments stay
            node = node.with_changes(footer=[*carry, *node.footer])
        if inserting:
            body = _pad_after(body, self.insert)
        if isinstance(node, cst.Module) and original is self.a.tree and body and self.a.tree.body and \
                self._original(body[0]) is not self.a.tree.body[0]:
            body = _not_starting_blank(self.a.tree, node, body)
        return node.with_changes(body=body)

    def _inserted(self, carry: list[cst.EmptyLine]) -> list[cst.SimpleStatementLine]:
        new = list(self.insert)
        if carry and new:
            new[0] = new[0].with_changes(leading_lines=[*carry, *new[0].leading_lines])
            self.insert = new
        return new


def _originals(results: dict[int, tuple[cst.CSTNode, Any]]) -> Iterable[tuple[cst.CSTNode, cst.CSTNode]]:
    """(original node, its result) for every node an earlier pass rebuilt."""
    for original, result in results.values():
        if isinstance(result, cst.CSTNode):
            yield original, result
        elif isinstance(result, cst.FlattenSentinel):
            for piece in result.nodes:
                yield original, piece


def _pad_after(body: list[Any], inserted: Sequence[cst.CSTNode]) -> list[Any]:
    """Blank lines between the inserted imports and the statement after them: two before a function or a
    class (as formatters put them), else at least one."""
    last = max((i for i, s in enumerate(body) if any(s is n for n in inserted)), default=None)
    if last is None or last + 1 >= len(body):
        return body
    nxt = body[last + 1]
    lines = list(nxt.leading_lines)
    wanted = 2 if isinstance(nxt, (cst.FunctionDef, cst.ClassDef)) else 1
    have = next((i for i, line in enumerate(lines) if line.comment is not None), len(lines))
    if have >= wanted:
        return body
    padded = [BLANK] * (wanted - have) + lines
    return [*body[:last + 1], nxt.with_changes(leading_lines=padded), *body[last + 2:]]


def _carried(carry: list[cst.EmptyLine], lines: Sequence[cst.EmptyLine], mode: str) -> list[cst.EmptyLine]:
    """What a removed statement leaves for the next one: all its leading lines, or the blank lines
    before its first comment (the separation from the statement before it)."""
    if mode == "all":
        return [*carry, *lines]
    if mode == "none":
        return carry
    blanks = 0
    for line in lines:
        if line.comment is not None:
            break
        blanks += 1
    have = sum(1 for line in carry if line.comment is None)
    return carry + [BLANK] * max(0, blanks - have)


def _with_leading(node: Any, carry: list[cst.EmptyLine]) -> Any:
    """`node` with the carried lines above its own; blank lines where the two meet: the most of either."""
    if not isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return node
    own = list(node.leading_lines)
    if all(line.comment is None for line in carry):
        own_blanks = 0
        for line in own:
            if line.comment is not None:
                break
            own_blanks += 1
        extra = max(0, len(carry) - own_blanks)
        return node.with_changes(leading_lines=[BLANK] * extra + own) if extra else node
    return node.with_changes(leading_lines=[*carry, *own])


def _not_starting_blank(original: cst.Module, module: cst.Module, body: list[Any]) -> list[Any]:
    """When the first statements went, the file must not start with blank lines it did not start with."""
    first_old = original.body[0]
    starts_blank = bool(first_old.leading_lines) and first_old.leading_lines[0].comment is None
    if starts_blank or module.header:
        return body
    first = body[0]
    if not isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return body
    lines = list(first.leading_lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return [first.with_changes(leading_lines=lines), *body[1:]]


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()
        self.typing = 0  # inside an annotation or a cast's type, where a string is an annotation too

    def visit_Name(self, node: cst.Name) -> None:
        self.found.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.typing += 1

    def leave_Annotation(self, original_node: cst.Annotation) -> None:
        self.typing -= 1

    def visit_Call(self, node: cst.Call) -> bool:
        """`cast("X", v)`: its first argument is a type, a string there an annotation."""
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if name != "cast" or not node.args:
            return True
        node.func.visit(self)
        self.typing += 1
        node.args[0].visit(self)
        self.typing -= 1
        for arg in node.args[1:]:
            arg.visit(self)
        return False

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        """A string annotation refers to the names in it (`"Optional[str]"` keeps `Optional` imported);
        any other string (an `__all__` entry, a message) refers to nothing."""
        if not self.typing:
            return
        text = node.evaluated_value
        if isinstance(text, str) and len(text) < 200 and text.strip():
            try:
                cst.parse_expression(text).visit(self)
            except (cst.ParserSyntaxError, RecursionError):
                pass


def names_in(node: cst.CSTNode) -> set[str]:
    """The names an expression or statement refers to (attribute names excluded). A string replaced on
    its own is a string annotation (the only strings rules rewrite), so the names in it count."""
    visitor = _Names()
    visitor.typing = int(isinstance(node, cst.SimpleString))
    node.visit(visitor)
    return visitor.found


def present(analysis: Analysis, done: Outcome, node: cst.CSTNode) -> bool:
    """Whether an ORIGINAL node is still in the tree the edits made: no ancestor was removed, and every
    ancestor an edit replaced still holds it (what it holds of the original is the same object)."""
    here, current = node, node
    while True:
        parent = analysis.parent(current)
        if parent is None:
            return True
        if id(parent) in done.removed:
            return False
        entry = done.results.get(id(parent))
        if entry is not None:
            result = entry[1]
            if id(parent) in done.gone and not _holds(result, here):
                return False
            here = result
        current = parent


class _Find(cst.CSTVisitor):
    def __init__(self, target: cst.CSTNode) -> None:
        super().__init__()
        self.target, self.found = target, False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.target:
            self.found = True
        return not self.found


def _holds(tree: Any, target: cst.CSTNode) -> bool:
    nodes = tree.nodes if isinstance(tree, cst.FlattenSentinel) else [tree] if isinstance(tree, cst.CSTNode) else []
    for node in nodes:
        finder = _Find(target)
        node.visit(finder)
        if finder.found:
            return True
    return False


def is_marked(node: _Statement) -> bool:
    """True when a statement already carries a manual marker (from this or an earlier run)."""
    return any(line.comment and line.comment.value.startswith(MARKER_PREFIX) for line in node.leading_lines)
