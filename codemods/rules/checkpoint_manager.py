"""SimpleCheckpointManager -> TinyCheckpointManager: construction, methods, attributes, the save pair.

A manager is one unit with everything it flows through, across files (constructions, parameters,
arguments, returns, `self` attributes, fixtures, the trainer-state dicts it loads): the unit migrates
only when every one of its sites can, else none of it changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.graph import K
from codemods.analysis.shapes import NEW_MANAGER, code, literal_str
from codemods.analysis.values import (
    BEST,
    ISINSTANCE_REASON,
    MANAGER_NO_COUNTERPART,
    MANAGER_RENAMED,
    RECORD_CLASSES,
    SAVE_ARGS,
    STATE_ARGS,
    manager_args,
    state_call,
)
from codemods.decisions import chosen
from codemods.edits import Edit
from codemods.legacy import MANAGER_STATE_KEYS
from codemods.rules._rule import Rule, held_back, paren

LEGACY = "SimpleCheckpointManager"
NO_COUNTERPART = MANAGER_NO_COUNTERPART
AS_VALUE = ("SimpleCheckpointManager used as a value (isinstance, a factory, ...); managers are "
            "TinyCheckpointManager now: decide")
ISINSTANCE_PREFIX = ISINSTANCE_REASON.partition("{")[0]


class CheckpointManagerRule(Rule):
    NAME = "checkpoint_manager"
    DESCRIPTION = ("SimpleCheckpointManager(run_dir, run_name) -> TinyCheckpointManager(run_name, base_dir=<parent>); "
                   "load_agent -> load_latest_agent; save_agent + save_trainer_state -> save_checkpoint; "
                   "run_dir -> checkpoint_dir.parent; trainer-state keys follow; score queries -> manual (and the "
                   "manager's whole unit, across files, stays as it is).")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        s, walk = a.solution, a.walk
        target = a.config.target
        for key, call, new in walk.constructions:
            if not isinstance(new, str) and s.migrates(key):
                yield self.replace(call, f"SimpleCheckpointManager(...) -> {code(new)}", lambda _u, n=new: n,
                                   imports=[(target, NEW_MANAGER)])
        for receiver, call, method in walk.method_calls:
            if s.has(receiver, K.MGR) and s.migrates(receiver):
                yield from self._method(a, call, method)
            elif method == "get" and s.has(receiver, K.TSTATE) and s.migrates(receiver):
                yield from self._state_get(call)
        for key, node in walk.attr_reads:
            if node.attr.value == "run_dir" and s.has(key, K.MGR) and s.migrates(key):
                yield self.replace(node, "run_dir -> checkpoint_dir.parent", lambda u: cst.Attribute(
                    cst.Attribute(u.value, cst.Name("checkpoint_dir")), cst.Name("parent"), lpar=u.lpar, rpar=u.rpar))
        for container, node in walk.subscripts:
            if s.has(container, K.TSTATE) and s.migrates(container):
                yield from self._state_key(node)
        for node, reason, kind, holds in held_back(a, self.NAME, "manager"):
            if not reason.startswith(ISINSTANCE_PREFIX):  # the class used as a value, reported below
                plain = kind in (K.ATTR, K.RBLOCK) or kind.startswith(K.BLOCK)
                text = reason if plain else f"a SimpleCheckpointManager {reason}; it stays as it is"
                yield self.manual(node, text + holds)
        for node, legacy, typing in walk.legacy_refs:
            if legacy == LEGACY and not typing and _as_value(a, node):
                yield self.manual(node, AS_VALUE)

    def _method(self, a: Analysis, call: cst.Call, method: str) -> Iterable[Edit]:
        if method in MANAGER_RENAMED:
            new = MANAGER_RENAMED[method]
            yield self.replace(call, f"{method} -> {new}", lambda u: u.with_changes(
                func=u.func.with_changes(attr=cst.Name(new))))
        elif method == "save_agent":
            yield from self._save(a, call)
        elif method in BEST and chosen(a.config.decisions, "best-checkpoint") == "latest":
            yield from self._best(a, call, method)
        elif method == "get_checkpoint_count" and not call.args:
            yield self.replace(call, "get_checkpoint_count() -> len(list_epochs())", lambda u: cst.Call(
                cst.Name("len"), [cst.Arg(u.with_changes(func=u.func.with_changes(attr=cst.Name("list_epochs"))))]))

    def _best(self, a: Analysis, call: cst.Call, method: str) -> Iterable[Edit]:
        """Decided (TCK-M108 best-checkpoint = latest): tinyckpt keeps no scores."""
        best = method == "find_best_checkpoint"
        what = code(call.args[0].value) if call.args else "its default metric"

        def build(u: Any) -> Any:
            listed = cst.Call(cst.Name("list_checkpoints"), [cst.Arg(cst.Attribute(u.func.value, cst.Name("checkpoint_dir")))])
            if not best:
                return paren(listed, u)
            last = cst.Call(cst.Name("reversed"), [cst.Arg(listed)])
            return paren(cst.Call(cst.Name("next"), [cst.Arg(last, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                                                     cst.Arg(cst.Name("None"))]), u)
        yield self.replace(call, f"{method}(...) -> {'the latest checkpoint' if best else 'every checkpoint'} (decided)",
                           build, imports=[(a.config.target, "list_checkpoints")])
        yield self.note(call, "TCK-M108 best-checkpoint = latest: " + (
            f"the latest checkpoint, no longer the best by {what}" if best else
            f"every checkpoint, no longer those scoring {what} or more"))

    def _save(self, a: Analysis, call: cst.Call) -> Iterable[Edit]:
        found = manager_args(call, SAVE_ARGS)
        if found is None:
            return
        metadata = found["metadata"]
        keys = [e.key.evaluated_value for e in getattr(metadata, "elements", ())
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)]
        dropped = f"metadata dropped: {', '.join(k for k in keys if k != 'agent_step') or code(metadata)}"
        where = next(i for i, arg in enumerate(call.args) if arg.value is metadata)
        pair = a.walk.manager_pairs.get(id(call))
        if pair is not None:
            state = manager_args(state_call(pair), STATE_ARGS)
            assert state is not None
            optimizer = code(state["optimizer"])
            if not isinstance(state["optimizer"], (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
                optimizer = f"({optimizer})"
            value = cst.parse_expression(f'{{"optimizer": {optimizer}.state_dict(), '
                                         f'"agent_step": {code(state["agent_step"])}}}')

            def build(u: Any) -> Any:
                args = list(u.args)
                args[where] = args[where].with_changes(value=value)
                return u.with_changes(func=u.func.with_changes(attr=cst.Name("save_checkpoint")), args=args)
            yield self.replace(call, f"save_agent + save_trainer_state -> save_checkpoint ({dropped})", build)
            yield self.remove(pair, "", report=False)
        else:
            def build(u: Any) -> Any:
                args = list(u.args)
                if where == len(args) - 1:  # the kept last argument ends the list the way the dropped one did
                    args[-2] = args[-2].with_changes(comma=args[-1].comma)
                args = [arg for i, arg in enumerate(args) if i != where]
                return u.with_changes(func=u.func.with_changes(attr=cst.Name("save_checkpoint")), args=args)
            yield self.replace(call, f"save_agent -> save_checkpoint ({dropped})", build)

    def _state_key(self, node: cst.Subscript) -> Iterable[Edit]:
        """`state["optimizer_state"]` of a trainer state follows the key save_checkpoint now saves."""
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        key = node.slice[0].slice.value
        old = literal_str(key)
        if not isinstance(key, cst.SimpleString) or old not in MANAGER_STATE_KEYS:
            return
        new = MANAGER_STATE_KEYS[old]

        def build(u: Any) -> Any:
            index = u.slice[0].slice
            return u.with_changes(slice=[u.slice[0].with_changes(
                slice=index.with_changes(value=cst.SimpleString(f"{key.quote}{new}{key.quote}")))])
        yield self.replace(node, f"trainer state key {key.value} -> {new!r}", build)

    def _state_get(self, call: cst.Call) -> Iterable[Edit]:
        """`state.get("optimizer_state", ...)` on a trainer-state dict follows the saved key too."""
        key = call.args[0].value if call.args else None
        old = literal_str(key)
        if not isinstance(key, cst.SimpleString) or old not in MANAGER_STATE_KEYS:
            return
        new = MANAGER_STATE_KEYS[old]
        yield self.replace(call, f"trainer state key {key.value} -> {new!r}", lambda u: u.with_changes(
            args=[u.args[0].with_changes(value=cst.SimpleString(f"{key.quote}{new}{key.quote}")), *u.args[1:]]))


def _as_value(a: Analysis, node: cst.CSTNode) -> bool:
    """The class named outside an annotation, and not as `Class(...)` or `Class.attr`: code that may now get
    another object (isinstance(x, C), a factory C passed around, ...)."""
    parent = a.parent(node)
    if isinstance(parent, cst.Call) and parent.func is node:
        return False
    if isinstance(parent, cst.Arg) and a.legacy(node) in RECORD_CLASSES:  # cast(R, x) -> x is typing_cast's
        call = a.parent(parent)
        if isinstance(call, cst.Call) and call.args and call.args[0] is parent and \
                a.qualified(call.func) & {"typing.cast", "typing_extensions.cast"}:
            return False
    return not (isinstance(parent, cst.Attribute) and parent.value is node)
