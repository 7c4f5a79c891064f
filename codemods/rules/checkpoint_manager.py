"""SimpleCheckpointManager -> TinyCheckpointManager: construction, methods, attributes, the save pair."""

from __future__ import annotations

import os
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from codemods.rules._legacy_types import (
    Binder,
    ScopedRule,
    dotted,
    import_map,
    is_fixture,
    is_test_file,
    qualify,
)

LEGACY = "SimpleCheckpointManager"
NEW = "TinyCheckpointManager"
DEFAULT_ROOTS = {"./train_dir", "train_dir", "./train_dir/", "train_dir/"}  # TinyCheckpointManager's default base_dir
RENAMED = {"load_agent": "load_latest_agent"}
UNCHANGED = {"run_name", "checkpoint_dir", "load_trainer_state"}
NEW_API = {"base_dir", "exists", "list_epochs", "load_latest_agent", "save_checkpoint"}  # already migrated
STATE_KEYS = {"optimizer_state": "optimizer"}  # trainer-state keys: legacy -> what save_checkpoint now saves
NO_COUNTERPART = {
    "find_best_checkpoint": "find_best_checkpoint has no tinyckpt counterpart (no score metadata); "
                            "decide how to pick the best checkpoint",
    "find_checkpoints_by_score": "find_checkpoints_by_score has no tinyckpt counterpart (no score metadata); "
                                 "decide how to select checkpoints",
    "list_all_checkpoints": "list_all_checkpoints has no tinyckpt counterpart (no metadata sidecars); "
                            "use list_epochs() or list_checkpoints()",
    "cleanup_old_checkpoints": "cleanup_old_checkpoints has no tinyckpt counterpart; decide which checkpoint files to delete",
    "save_trainer_state": "save_trainer_state without the save_agent of the same epoch just before it; "
                          "tinyckpt saves the trainer state with the agent (save_checkpoint)",
}
PURE_CALLS = {"float", "int", "str", "round", "len", "dict", "abs", "bool", "min", "max"}  # metadata may drop these


class CheckpointManagerRule(ScopedRule):
    NAME = "checkpoint_manager"
    DESCRIPTION = ("SimpleCheckpointManager(run_dir, run_name) -> TinyCheckpointManager(run_name, base_dir=<parent>); "
                   "load_agent -> load_latest_agent; save_agent + save_trainer_state -> save_checkpoint; "
                   "run_dir -> checkpoint_dir.parent; score queries -> manual.")

    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """("fixture", name, directory, is_conftest, qualified return type or None, fixture it returns or None)."""
        path = os.path.abspath(context.filename or "")
        if not is_test_file(path):
            return []
        imported = import_map(tree, context.full_package_name)
        facts = []
        for fn in tree.body:
            if not isinstance(fn, cst.FunctionDef) or not is_fixture(fn):
                continue
            returned = [r.value for r in m.findall(fn, m.Return()) if r.value is not None]  # type: ignore[union-attr]
            kind = qualify(fn.returns.annotation, imported) if fn.returns else None
            alias = None
            if kind is None and len(returned) == 1:
                value = returned[0]
                kind = qualify(value.func, imported) if isinstance(value, cst.Call) else None
                alias = value.value if isinstance(value, cst.Name) else None
            facts.append(("fixture", fn.name.value, os.path.dirname(path), os.path.basename(path) == "conftest.py",
                          kind, alias))
            if alias or (kind or "").rpartition(".")[2] == LEGACY:
                facts.append(("needle", fn.name.value))  # test files using this fixture may mention nothing legacy
        return facts

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.managers = _Managers(self, node).run()
        self.states = _States(node).run()
        self._pairs: dict[int, cst.SimpleStatementLine] = {}  # id(save_agent call) -> its save_trainer_state line
        self._drop: set[int] = set()  # ids of save_trainer_state lines merged into the line before
        self._state_vars: set[tuple[int, str]] = set()
        self._find_pairs(node.body)

    # -- fixtures ---------------------------------------------------------------------------------
    def fixture_kinds(self) -> dict[str, str]:
        here = os.path.dirname(os.path.abspath(self.context.filename or ""))
        facts = [f for f in self.index.get(self.NAME, []) if f[0] == "fixture"
                 and (f[2] == here or (f[3] and (here + os.sep).startswith(f[2] + os.sep)))]
        kinds: dict[str, str] = {}
        for _ in range(3):  # fixtures returning other fixtures
            for _, name, _, _, qualified, alias in facts:
                kind = self._known(qualified) if qualified else kinds.get(alias or "")
                if kind:
                    kinds[name] = kind
        return kinds

    # -- construction -----------------------------------------------------------------------------
    def construction(self, call: cst.Call) -> cst.Call | str:
        """The TinyCheckpointManager call for a SimpleCheckpointManager(...) call, or why not."""
        found: dict[str, cst.BaseExpression] = {}
        for position, arg in enumerate(call.args):
            if arg.star:
                return "SimpleCheckpointManager(*args/**kwargs): decide run_name and base_dir"
            key = arg.keyword.value if arg.keyword else ("run_dir", "run_name")[position] if position < 2 else "?"
            found[key] = arg.value
        run_dir, run_name = found.get("run_dir"), found.get("run_name")
        if run_dir is None or run_name is None or set(found) - {"run_dir", "run_name"}:
            return "unexpected SimpleCheckpointManager arguments; decide run_name and base_dir"
        base = self._parent(run_dir, run_name)
        if base is None:
            return ("run_dir is not visibly <base_dir>/<run_name>; choose base_dir (TinyCheckpointManager's "
                    "base_dir is the parent of the run directory)")
        args = [cst.Arg(run_name)]
        if not (isinstance(base, cst.SimpleString) and base.evaluated_value in DEFAULT_ROOTS):
            args = [cst.Arg(run_name, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                    cst.Arg(base, keyword=cst.Name("base_dir"), equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))]
        return cst.Call(cst.Name(NEW), args)

    def _parent(self, run_dir: cst.BaseExpression, run_name: cst.BaseExpression) -> cst.BaseExpression | None:
        """`X` when run_dir is visibly `X/<run_name>` (os.path.join, f-string, `/`, str(...), literal)."""
        same = _code(run_name)
        if isinstance(run_dir, cst.Call) and self.qualified_names(run_dir.func) & {"os.path.join", "posixpath.join"}:
            parts = run_dir.args
            if len(parts) >= 2 and not any(a.star or a.keyword for a in parts) and _code(parts[-1].value) == same:
                if len(parts) == 2:
                    return parts[0].value
                return run_dir.with_changes(args=[*parts[:-2], parts[-2].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
        if isinstance(run_dir, cst.Call) and m.matches(run_dir.func, m.Name("str")) and len(run_dir.args) == 1:
            return self._parent(run_dir.args[0].value, run_name)
        if isinstance(run_dir, cst.BinaryOperation) and isinstance(run_dir.operator, cst.Divide):
            return run_dir.left if _code(run_dir.right) == same else None
        if isinstance(run_dir, cst.FormattedString) and len(run_dir.parts) >= 2:
            last, before = run_dir.parts[-1], run_dir.parts[-2]
            if (isinstance(last, cst.FormattedStringExpression) and last.conversion is None
                    and last.format_spec is None and _code(last.expression) == same
                    and isinstance(before, cst.FormattedStringText) and before.value.endswith("/")):
                prefix = [*run_dir.parts[:-2], before.with_changes(value=before.value[:-1])]
                prefix = [p for p in prefix if not (isinstance(p, cst.FormattedStringText) and not p.value)]
                if len(prefix) == 1 and isinstance(prefix[0], cst.FormattedStringText):
                    return cst.SimpleString(repr(prefix[0].value))
                if len(prefix) == 1 and isinstance(prefix[0], cst.FormattedStringExpression) \
                        and prefix[0].conversion is None and prefix[0].format_spec is None:
                    return prefix[0].expression
                return run_dir.with_changes(parts=prefix) if prefix else None
        if isinstance(run_dir, cst.SimpleString) and isinstance(run_name, cst.SimpleString):
            path, name = run_dir.evaluated_value, run_name.evaluated_value
            if isinstance(path, str) and isinstance(name, str) and path.endswith("/" + name):
                return cst.SimpleString(repr(path[: -len(name) - 1]))
        return None

    # -- the save pair ------------------------------------------------------------------------------
    def _find_pairs(self, body: Any) -> None:
        for first, second in zip(body, body[1:]):
            save = _call_in(first, "save_agent")
            state = _call_in(second, "save_trainer_state", whole=True)
            if save is None or state is None or not self.holds(self.managers, save.func.value):
                continue
            if _code(save.func.value) != _code(state.func.value):
                continue
            agent_args, state_args = _args(save, ("agent", "epoch", "metadata")), \
                _args(state, ("optimizer", "epoch", "agent_step"))
            if agent_args is None or state_args is None or _code(agent_args["epoch"]) != _code(state_args["epoch"]):
                continue
            self._pairs[id(save)] = second
            self._drop.add(id(second))

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._find_pairs(node.body)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> Any:
        if id(original_node) in self._drop:
            return cst.RemoveFromParent()
        return updated_node

    def _save(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        found = _args(original, ("agent", "epoch", "metadata"))
        if found is None:
            self.manual(original, "unexpected save_agent arguments; rewrite as save_checkpoint(agent, epoch, trainer_state)")
            return updated
        metadata = found["metadata"]
        if any(dotted(c.func) not in PURE_CALLS for c in m.findall(metadata, m.Call())):  # type: ignore[arg-type]
            self.manual(original, "save_agent metadata calls code (tinyckpt saves no metadata); decide what to keep")
            return updated
        keys = [e.key.evaluated_value for e in getattr(metadata, "elements", ())
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)]
        dropped = f"metadata dropped: {', '.join(k for k in keys if k != 'agent_step') or _code(metadata)}"
        args = list(updated.args)
        where = next(i for i, a in enumerate(original.args) if a.value is metadata)
        pair = self._pairs.get(id(original))
        if pair is not None:
            state = _args(_call_in(pair, "save_trainer_state", whole=True), ("optimizer", "epoch", "agent_step"))
            optimizer = _code(state["optimizer"])  # type: ignore[index]
            if not isinstance(state["optimizer"], (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):  # type: ignore[index]
                optimizer = f"({optimizer})"
            value = cst.parse_expression(f'{{"optimizer": {optimizer}.state_dict(), '
                                         f'"agent_step": {_code(state["agent_step"])}}}')  # type: ignore[index]
            args[where] = args[where].with_changes(value=value)
            self.migrated(original, f"save_agent + save_trainer_state -> save_checkpoint ({dropped})")
        else:
            args = [a for i, a in enumerate(args) if i != where]
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            self.migrated(original, f"save_agent -> save_checkpoint ({dropped})")
        return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("save_checkpoint")), args=args)

    # -- calls, attributes, trainer-state keys --------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        if self.legacy_class(original_node.func) == LEGACY:
            new = self.construction(original_node)
            if isinstance(new, str):
                self.manual(original_node, new)
                return updated_node
            self.migrated(original_node, f"SimpleCheckpointManager(...) -> {_code(new)}")
            self.add_needed_import(self.config.target, NEW)
            self.remove_unused_import_by_node(original_node)
            return new
        func = original_node.func
        if not isinstance(func, cst.Attribute) or not self.holds(self.managers, func.value):
            return updated_node
        method = func.attr.value
        if method in RENAMED:
            self.migrated(original_node, f"{method} -> {RENAMED[method]}")
            return updated_node.with_changes(func=updated_node.func.with_changes(attr=cst.Name(RENAMED[method])))
        if method == "save_agent":
            return self._save(original_node, updated_node)
        if method == "get_checkpoint_count" and not original_node.args:
            self.migrated(original_node, "get_checkpoint_count() -> len(list_epochs())")
            inner = updated_node.with_changes(func=updated_node.func.with_changes(attr=cst.Name("list_epochs")))
            return cst.Call(cst.Name("len"), [cst.Arg(inner)])
        if method == "save_trainer_state" and id(original_node) in self._pair_states():
            return updated_node
        if method in NO_COUNTERPART:
            self.manual(original_node, NO_COUNTERPART[method])
        elif method not in UNCHANGED | NEW_API:
            self.manual(original_node, f"SimpleCheckpointManager.{method} has no tinyckpt counterpart; decide")
        return updated_node

    def _pair_states(self) -> set[int]:
        return {id(_call_in(line, "save_trainer_state", whole=True)) for line in self._pairs.values()}

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> Any:
        if original_node.attr.value != "run_dir" or not self.holds(self.managers, original_node.value):
            return updated_node
        self.migrated(original_node, "run_dir -> checkpoint_dir.parent")
        return cst.Attribute(cst.Attribute(updated_node.value, cst.Name("checkpoint_dir")), cst.Name("parent"))

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if (len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and isinstance(value, cst.Call)
                and isinstance(value.func, cst.Attribute) and value.func.attr.value == "load_trainer_state"
                and self.holds(self.managers, value.func.value) and self.holds(self.states, node.targets[0].target)):
            self._state_vars.add((id(self._function()), node.targets[0].target.value))

    def _function(self) -> cst.CSTNode | None:
        return next((s for s in reversed(self._scopes) if not isinstance(s, cst.ClassDef)), None)

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> Any:
        target = original_node.value
        state = (isinstance(target, cst.Name) and (id(self._function()), target.value) in self._state_vars) or (
            isinstance(target, cst.Call) and isinstance(target.func, cst.Attribute)
            and target.func.attr.value == "load_trainer_state" and self.holds(self.managers, target.func.value))
        if not state or len(original_node.slice) != 1 or not isinstance(original_node.slice[0].slice, cst.Index):
            return updated_node
        key = original_node.slice[0].slice.value
        if not isinstance(key, cst.SimpleString) or key.evaluated_value not in STATE_KEYS:
            return updated_node
        new = STATE_KEYS[key.evaluated_value]  # type: ignore[index]
        self.migrated(original_node, f"trainer state key {key.value} -> {new!r}")
        index = updated_node.slice[0].slice
        return updated_node.with_changes(slice=[updated_node.slice[0].with_changes(
            slice=index.with_changes(value=cst.SimpleString(f'{key.quote}{new}{key.quote}')))])  # type: ignore[union-attr]


class _Managers(Binder):
    """Names and self attributes holding a manager that is migrated with its construction."""

    def __init__(self, rule: CheckpointManagerRule, module: cst.Module) -> None:
        super().__init__(module)
        self.rule = rule
        self.fixtures = rule.fixture_kinds() if is_test_file(rule.context.filename) else {}

    def takes_param(self, fn: cst.FunctionDef, param: cst.Param) -> bool:
        if param.annotation is not None:
            return self.rule.annotation_type(param.annotation.annotation) == (LEGACY, False)
        return self.fixtures.get(param.name.value) == LEGACY

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        if annotation is not None:
            return self.rule.annotation_type(annotation) == (LEGACY, False)
        if isinstance(value, cst.Call) and self.rule.legacy_class(value.func) == LEGACY:
            return not isinstance(self.rule.construction(value), str)
        return self.is_tracked(value)


class _States(Binder):
    """Names bound only to `<x>.load_trainer_state()` (the manager is checked where it is assigned)."""

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        return m.matches(value, m.Call(func=m.Attribute(attr=m.Name("load_trainer_state")), args=[]))


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _call_in(line: Any, method: str, whole: bool = False) -> cst.Call | None:
    """The `<x>.<method>(...)` call a simple statement line is made of (`x = ...` too unless `whole`)."""
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    small = line.body[0]
    value = small.value if isinstance(small, cst.Expr) else None
    if not whole and isinstance(small, cst.Assign) and len(small.targets) == 1:
        value = small.value
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == method:
        return value
    return None


def _args(call: cst.Call | None, names: tuple[str, ...]) -> dict[str, cst.BaseExpression] | None:
    """Arguments by parameter name (positional or keyword); None for stars or a wrong count."""
    if call is None:
        return None
    found: dict[str, cst.BaseExpression] = {}
    for position, arg in enumerate(call.args):
        if arg.star:
            return None
        key = arg.keyword.value if arg.keyword else names[position] if position < len(names) else None
        if key not in names or key in found:
            return None
        found[key] = arg.value
    return found if set(found) == set(names) else None
