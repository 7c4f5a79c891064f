"""The trainer's save pair -> save_checkpoint(...); TrainerCheckpoint.load(run_dir) -> load_trainer_state()."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.shapes import SAVE_PAIR, assigned_in, keyword, run_and_base
from codemods.edits import Edit
from codemods.legacy import TRAINER_CHECKPOINT_DROPPED
from codemods.rules._rule import Rule

NEW_SAVE = "save_checkpoint(AGENT, RUN, E, {trainer fields but epoch and policy_path}, base_dir=BASE)"
NEW_LOAD = "TinyCheckpointManager(RUN, base_dir=BASE).load_trainer_state()"  # + attribute reads -> keys
LOAD_REASON = "TrainerCheckpoint.load: {why}; decide where the trainer state is read from"
SAVE_REASON = "TrainerCheckpoint.save outside the trainer's save pair; decide where the trainer state is written"
SECTION = "trainer_saves"  # index section: ("keys", fields) per migrated save pair, ("unmatched",) per lone save


class TrainerCheckpoint(Rule):
    NAME = "trainer_checkpoint"
    DESCRIPTION = ("The save pair " + "; ".join(SAVE_PAIR) + " -> " + NEW_SAVE + "; TrainerCheckpoint.load(run_dir) -> "
                   + NEW_LOAD + " with attribute reads -> keys. All or nothing across the tree: a load is "
                   "migrated only when every save is.")

    @classmethod
    def facts(cls, a: Analysis) -> dict[str, list[Any]]:
        walk, module = a.walk, a.module or "__main__"
        found: list[Any] = [("keys", tuple(fields), module) for *_, fields in walk.save_pairs]
        found += [("unmatched", (), module)] * len(walk.trainer_saves)
        found += [("load", (), module)] * len(walk.trainer_loads)
        return {SECTION: found} if found else {}

    def plan(self, a: Analysis) -> Iterable[Edit]:
        walk = a.walk
        outside = self._outside(a) or ("" if a.standalone else a.solution.pairs_held)
        if outside:  # the trainer's checkpoints are also read or written by code this run does not rewrite
            for stmts, *_ in walk.save_pairs:
                yield self.manual(stmts[0], outside)
            for call in walk.trainer_loads:
                yield self.manual(call, outside)
            return
        for stmts, call, dropped, _ in walk.save_pairs:
            note = f" (dropped metadata: {', '.join(dropped)})" if dropped else ""
            yield self.replace(stmts[0], f"save pair -> save_checkpoint(...){note}",
                               lambda updated, c=call: cst.SimpleStatementLine([cst.Expr(c)],
                                                                               leading_lines=updated.leading_lines),
                               imports=[(a.config.target, "save_checkpoint")])
            for stmt in stmts[1:]:
                yield self.remove(stmt, "", carry="none", report=False)
        for call in walk.trainer_saves:
            yield self.manual(call, SAVE_REASON)
        facts = a.index.get(SECTION, []) if not a.standalone else []
        all_saves_ok = not a.standalone and not any(f[0] == "unmatched" for f in facts)
        key_sets = [set(f[1]) for f in facts if f[0] == "keys"]
        keys = ((set.intersection(*key_sets) if key_sets else set()) - set(TRAINER_CHECKPOINT_DROPPED)) | {"epoch"}
        for call in walk.trainer_loads:
            if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "load"):
                continue
            found = self._load(a, call, keys, all_saves_ok)
            if isinstance(found, str):
                yield self.manual(call, LOAD_REASON.format(why=found))
            else:
                yield from found

    @staticmethod
    def _outside(a: Analysis) -> str:
        """Why nothing of the trainer state may change: a module the run does not rewrite reads the agent
        checkpoints the save pair writes, or saves or loads a TrainerCheckpoint ("" when none does)."""
        if a.standalone:
            return ""
        frozen = set(a.index.get("frozen", ()))
        where = a.solution.outside_readers or next(
            (f[2] for f in a.index.get(SECTION, []) if len(f) > 2 and f[2] in frozen), "")
        return (f"stays legacy: {where}, outside the paths this run was given, reads or writes these checkpoints the "
                "legacy way; run on the whole project to migrate it") if where else ""

    def _load(self, a: Analysis, call: cst.Call, keys: set[str], all_saves_ok: bool) -> str | list[Edit]:
        """The edits of a load, or why it stays."""
        if not all_saves_ok:
            return "a TrainerCheckpoint.save in the tree stays legacy (or the tree is unknown)"
        if len(call.args) != 1 or call.args[0].keyword or call.args[0].star:
            return "a filename or unusual arguments"
        located = run_and_base(call.args[0].value, lambda name: assigned_in(a.function_of(call), name, a.tree))
        if located is None:
            return "its directory is not os.path.join(base_dir, run_name)"
        assign = a.parent(call)
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name)):
            return "its result is not assigned to a name"
        reads = _reads_of(a, assign.targets[0].target, keys)
        if reads is None:
            return f"its result is used other than by reading {', '.join(sorted(keys))}"
        run, base = located
        manager = cst.Call(cst.Name("TinyCheckpointManager"), [cst.Arg(run), keyword("base_dir", base)])
        edits = [self.replace(call, "TrainerCheckpoint.load(run_dir) -> load_trainer_state()",
                              lambda _u: cst.Call(cst.Attribute(manager, cst.Name("load_trainer_state")), []),
                              imports=[(a.config.target, "TinyCheckpointManager")])]
        for node, key in reads:
            edits.append(self.replace(node, f"trainer state .{key} -> [\"{key}\"]", lambda u, k=key: cst.Subscript(
                u.value, [cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{k}"')))], lpar=u.lpar, rpar=u.rpar)))
        return edits


def _reads_of(a: Analysis, target: cst.Name, keys: set[str]) -> list[tuple[cst.Attribute, str]] | None:
    """`x.<key>` reads of the loaded value (and `x is None` tests); None when it is used otherwise."""
    scope = a.scopes.get(target)
    if scope is None or len(scope.assignments[target.value]) != 1:
        return None
    reads: list[tuple[cst.Attribute, str]] = []
    for access in scope.accesses[target.value]:
        parent = a.parent(access.node)
        if isinstance(parent, cst.Attribute) and parent.attr.value in keys:
            reads.append((parent, parent.attr.value))
        elif isinstance(parent, cst.Comparison) and parent.left is access.node and all(
                isinstance(t.operator, (cst.Is, cst.IsNot)) and isinstance(t.comparator, cst.Name)
                and t.comparator.value == "None" for t in parent.comparisons):
            continue
        else:
            return None
    return reads
