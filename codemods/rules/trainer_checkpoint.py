"""The trainer's save pair -> save_checkpoint(...); TrainerCheckpoint.load(run_dir) -> load_trainer_state()."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import libcst as cst
import libcst.matchers as m
from libcst._metadata_dependent import LazyValue
from libcst.codemod import CodemodContext
from libcst.metadata import (
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
    ScopeProvider,
)

from codemods.config import Config
from codemods.rules._base import CONFIG_KEY, LegacyRule, NoFieldVisits, resolve_relative, shared_wrapper
from codemods.rules._quick import legacy_only, mentions
from codemods.rules._save_pair import (
    DROPPED_FIELDS,
    NO_EQ,
    SAVE_PAIR,
    match_save_pair,
    run_and_base,
    save_pairs,
)

NEW_SAVE = "save_checkpoint(AGENT, RUN, E, {trainer fields but epoch and policy_path}, base_dir=BASE)"
NEW_LOAD = "TinyCheckpointManager(RUN, base_dir=BASE).load_trainer_state()"  # + attribute reads -> keys
LOAD_REASON = "TrainerCheckpoint.load: {why}; decide where the trainer state is read from"
SAVE_REASON = "TrainerCheckpoint.save outside the trainer's save pair; decide where the trainer state is written"


class TrainerCheckpoint(LegacyRule):
    NAME = "trainer_checkpoint"
    DESCRIPTION = ("The save pair " + "; ".join(SAVE_PAIR) + " -> " + NEW_SAVE + "; TrainerCheckpoint.load(run_dir) -> "
                   + NEW_LOAD + " with attribute reads -> keys. All or nothing across the tree: a load is "
                   "migrated only when every save is.")
    METADATA_DEPENDENCIES: ClassVar[Sequence[Any]] = (QualifiedNameProvider, PositionProvider, ScopeProvider,
                                                      ParentNodeProvider)

    def transform_module(self, tree: cst.Module) -> cst.Module:
        return super().transform_module(tree) if mentions(tree, self.config, ("TrainerCheckpoint",)) else tree

    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """("keys", written keys) per migrated save pair; ("unmatched", n) per save outside one."""
        config = context.scratch.get(CONFIG_KEY) or Config()
        if not mentions(tree, config, ("TrainerCheckpoint",)):
            return []
        wrapper = shared_wrapper(tree)  # (the rules that see this tree unchanged reuse its metadata)
        qnames = wrapper.resolve(QualifiedNameProvider)

        def legacy(node: cst.CSTNode) -> str | None:
            found = qnames.get(node, ())
            for q in found() if isinstance(found, LazyValue) else found:
                if q.source is QualifiedNameSource.IMPORT:
                    found = config.legacy_class(resolve_relative(q.name, context.full_package_name))
                    if found:
                        return found
            return None
        paired = save_pairs(wrapper.module, legacy)
        facts: list[Any] = [("file",)]
        for stmt in paired[3::4]:
            call = stmt.body[0].value  # type: ignore[attr-defined]
            facts.append(("keys", tuple(a.keyword.value for a in call.func.value.args)))
        inside = {id(s) for s in paired}
        lone = _LoneSaves(legacy, inside)
        wrapper.module.visit(lone)
        facts.extend(("unmatched", 1) for _ in range(lone.count))
        return facts

    def visit_Module(self, node: cst.Module) -> None:
        facts = self.index.get(self.NAME)
        standalone = facts is None
        facts = facts or []
        self._all_saves_ok = not standalone and not any(f[0] == "unmatched" for f in facts)
        key_sets = [set(f[1]) for f in facts if f[0] == "keys"]
        self._keys = ((set.intersection(*key_sets) if key_sets else set()) - set(DROPPED_FIELDS)) | {"epoch"}
        self._functions: list[cst.FunctionDef] = []
        self._reads: dict[int, str] = {}
        self._loads: dict[int, tuple[cst.BaseExpression, cst.BaseExpression]] = {}
        self._paired = {id(s) for s in save_pairs(node, self._legacy)}
        self._in_pair = 0

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._in_pair += id(node) in self._paired

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: Any) -> Any:
        self._in_pair -= id(original_node) in self._paired
        return updated_node

    def _legacy(self, node: cst.CSTNode) -> str | None:
        return legacy_only(self, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> Any:
        self._functions.pop()
        return updated_node

    # -- the save pair ----------------------------------------------------------------------------
    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> Any:
        old, new = list(original_node.body), list(updated_node.body)
        if len(old) != len(new):
            return updated_node
        out: list[cst.BaseStatement] = []
        i = 0
        function = self._functions[-1] if self._functions else None
        while i < len(old):
            found = match_save_pair(old, i, self._legacy, function)
            if found is None:
                out.append(new[i])
                i += 1
                continue
            call, dropped = found
            self.add_needed_import(self.config.target, "save_checkpoint")
            note = f" (dropped metadata: {', '.join(dropped)})" if dropped else ""
            self.migrated(old[i], f"save pair -> save_checkpoint(...){note}")
            out.append(cst.SimpleStatementLine([cst.Expr(call)], leading_lines=new[i].leading_lines))
            i += 4
        return updated_node.with_changes(body=out)

    # -- loads ------------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "save" and isinstance(func.value, cst.Call) and \
                legacy_only(self, func.value.func) == "TrainerCheckpoint" and not self._in_pair:
            self.manual(node, SAVE_REASON)
            return
        if not (isinstance(func, cst.Attribute) and legacy_only(self, func.value) == "TrainerCheckpoint"):
            return
        if func.attr.value != "load":
            return
        why = self._load_problem(node)
        if why:
            self.manual(node, LOAD_REASON.format(why=why))

    def _load_problem(self, node: cst.Call) -> str | None:
        if not self._all_saves_ok:
            return "a TrainerCheckpoint.save in the tree stays legacy (or the tree is unknown)"
        if len(node.args) != 1 or node.args[0].keyword or node.args[0].star:
            return "a filename or unusual arguments"
        located = run_and_base(node.args[0].value, self._functions[-1] if self._functions else None)
        if located is None:
            return "its directory is not os.path.join(base_dir, run_name)"
        assign = self.get_metadata(ParentNodeProvider, node)
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name)):
            return "its result is not assigned to a name"
        reads = self._reads_of(assign.targets[0].target)
        if reads is None:
            return f"its result is used other than by reading {', '.join(sorted(self._keys))}"
        self._reads.update(reads)
        self._loads[id(node)] = located
        return None

    def _reads_of(self, target: cst.Name) -> dict[int, str] | None:
        scope = self.get_metadata(ScopeProvider, target)
        if scope is None or len(scope.assignments[target.value]) != 1:
            return None
        reads: dict[int, str] = {}
        for access in scope.accesses[target.value]:
            parent = self.get_metadata(ParentNodeProvider, access.node)
            if isinstance(parent, cst.Attribute) and parent.attr.value in self._keys:
                reads[id(parent)] = parent.attr.value
            elif isinstance(parent, cst.Comparison) and parent.left is access.node and all(
                    isinstance(t.operator, (cst.Is, cst.IsNot)) and m.matches(t.comparator, m.Name("None"))
                    for t in parent.comparisons):
                continue
            else:
                return None
        return reads

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        located = self._loads.get(id(original_node))
        if located is None:
            return updated_node
        run, base = located
        self.add_needed_import(self.config.target, "TinyCheckpointManager")
        self.migrated(original_node, "TrainerCheckpoint.load(run_dir) -> load_trainer_state()")
        manager = cst.Call(cst.Name("TinyCheckpointManager"),
                           [cst.Arg(run), cst.Arg(base, keyword=cst.Name("base_dir"), equal=NO_EQ)])
        return cst.Call(cst.Attribute(manager, cst.Name("load_trainer_state")), [])

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> Any:
        key = self._reads.get(id(original_node))
        if key is None:
            return updated_node
        self.migrated(original_node, f"trainer state .{key} -> [\"{key}\"]")
        return cst.Subscript(updated_node.value, [cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{key}"')))],
                             lpar=updated_node.lpar, rpar=updated_node.rpar)


class _LoneSaves(NoFieldVisits, cst.CSTVisitor):
    """Counts TrainerCheckpoint(...).save(...) calls outside a save pair."""

    def __init__(self, legacy: Any, inside: set[int]) -> None:
        self.legacy, self.inside, self.count, self._skip = legacy, inside, 0, 0

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._skip += id(node) in self.inside

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._skip -= id(node) in self.inside

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not self._skip and isinstance(func, cst.Attribute) and func.attr.value == "save" and \
                isinstance(func.value, cst.Call) and self.legacy(func.value.func) == "TrainerCheckpoint":
            self.count += 1
