"""The save side of SimpleCheckpointManager, for the checkpoint_manager rule: the save_agent +
save_trainer_state pair becomes one save_checkpoint, and trainer-state readers follow the saved keys."""

from __future__ import annotations

from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ParentNodeProvider

from codemods.legacy import MANAGER_STATE_KEYS
from codemods.rules._bindings import Binder, Bindings, ScopedRule, scope_layout
from codemods.rules._legacy_types import code, dotted

STATE_KEYS = MANAGER_STATE_KEYS  # trainer-state keys: legacy -> what save_checkpoint now saves
PURE_CALLS = {"float", "int", "str", "round", "len", "dict", "abs", "bool", "min", "max"}  # metadata may drop these
ESCAPES = ("the trainer state leaves this function; its key 'optimizer_state' is now 'optimizer' (what "
           "save_checkpoint saves): update the code that reads it")
SAVE_ARGS = ("agent", "epoch", "metadata")
STATE_ARGS = ("optimizer", "epoch", "agent_step")


class ManagerSaves(ScopedRule):
    """Mixin of the checkpoint_manager rule (which sets `managers` and calls `start_saves`)."""

    managers: Bindings

    def start_saves(self, module: cst.Module) -> None:
        self.states = _States(module).run()
        self._pairs: dict[int, cst.SimpleStatementLine] = {}  # id(save_agent call) -> its save_trainer_state line
        self._drop: set[int] = set()  # ids of save_trainer_state lines merged into the line before
        self._state_vars: set[tuple[int, str]] = set()
        self._find_pairs(module.body)

    # -- the save pair ------------------------------------------------------------------------------
    def _find_pairs(self, body: Any) -> None:
        for first, second in zip(body, body[1:]):
            save = _call_in(first, "save_agent")
            state = _call_in(second, "save_trainer_state", whole=True)
            if save is None or state is None or not self.holds(self.managers, save.func.value):
                continue
            if code(save.func.value) != code(state.func.value):
                continue
            agent_args, state_args = _args(save, SAVE_ARGS), _args(state, STATE_ARGS)
            if agent_args is None or state_args is None or code(agent_args["epoch"]) != code(state_args["epoch"]):
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
        found = _args(original, SAVE_ARGS)
        if found is None:
            self.manual(original, "unexpected save_agent arguments; rewrite as save_checkpoint(agent, epoch, trainer_state)")
            return updated
        metadata = found["metadata"]
        if any(dotted(c.func) not in PURE_CALLS for c in m.findall(metadata, m.Call())):  # type: ignore[arg-type]
            self.manual(original, "save_agent metadata calls code (tinyckpt saves no metadata); decide what to keep")
            return updated
        keys = [e.key.evaluated_value for e in getattr(metadata, "elements", ())
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)]
        dropped = f"metadata dropped: {', '.join(k for k in keys if k != 'agent_step') or code(metadata)}"
        args = list(updated.args)
        where = next(i for i, a in enumerate(original.args) if a.value is metadata)
        pair = self._pairs.get(id(original))
        if pair is not None:
            state = _args(_call_in(pair, "save_trainer_state", whole=True), STATE_ARGS)
            optimizer = code(state["optimizer"])  # type: ignore[index]
            if not isinstance(state["optimizer"], (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):  # type: ignore[index]
                optimizer = f"({optimizer})"
            value = cst.parse_expression(f'{{"optimizer": {optimizer}.state_dict(), '
                                         f'"agent_step": {code(state["agent_step"])}}}')  # type: ignore[index]
            args[where] = args[where].with_changes(value=value)
            self.migrated(original, f"save_agent + save_trainer_state -> save_checkpoint ({dropped})")
        else:
            if where == len(args) - 1:  # the kept last argument ends the list the way the dropped one did
                args[-2] = args[-2].with_changes(comma=args[-1].comma)
            args = [a for i, a in enumerate(args) if i != where]
            self.migrated(original, f"save_agent -> save_checkpoint ({dropped})")
        return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("save_checkpoint")), args=args)

    def pair_states(self) -> set[int]:
        return {id(_call_in(line, "save_trainer_state", whole=True)) for line in self._pairs.values()}

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if (len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and isinstance(value, cst.Call)
                and isinstance(value.func, cst.Attribute) and value.func.attr.value == "load_trainer_state"
                and self.holds(self.managers, value.func.value) and self.holds(self.states, node.targets[0].target)):
            name = node.targets[0].target.value
            if self._escapes(name):
                self.manual(node, ESCAPES)
            else:
                self._state_vars.add((id(self._function()), name))

    def _escapes(self, name: str) -> bool:
        """The trainer-state dict is used other than by reading keys or testing it (so a reader elsewhere
        may still use a legacy key)."""
        scope = self._function()
        for node in scope_layout(self._scopes[0]).own(scope) if scope is not None else ():  # type: ignore[arg-type]
            if not (isinstance(node, cst.Name) and node.value == name):
                continue
            parent = self.get_metadata(ParentNodeProvider, node, None)
            if isinstance(parent, (cst.Subscript, cst.AssignTarget, cst.If, cst.While, cst.IfExp, cst.BooleanOperation,
                                   cst.UnaryOperation, cst.Comparison, cst.Assert)):
                continue
            if isinstance(parent, cst.Attribute) and parent.attr.value == "get":
                continue
            return True
        return False

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

    def state_get(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """`state.get("optimizer_state", ...)` on a trainer-state dict follows the saved key too."""
        func = original.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "get" and isinstance(func.value, cst.Name)
                and (id(self._function()), func.value.value) in self._state_vars and original.args):
            return updated
        key = original.args[0].value
        if not isinstance(key, cst.SimpleString) or key.evaluated_value not in STATE_KEYS:
            return updated
        new = STATE_KEYS[key.evaluated_value]  # type: ignore[index]
        self.migrated(original, f"trainer state key {key.value} -> {new!r}")
        first = updated.args[0].with_changes(value=cst.SimpleString(f"{key.quote}{new}{key.quote}"))
        return updated.with_changes(args=[first, *updated.args[1:]])


class _States(Binder):
    """Names bound only to `<x>.load_trainer_state()` (the manager is checked where it is assigned)."""

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        return m.matches(value, m.Call(func=m.Attribute(attr=m.Name("load_trainer_state")), args=[]))


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
