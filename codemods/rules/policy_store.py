"""PolicyStore calls that select checkpoints of a file path become tinyckpt calls."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.graph import K
from codemods.analysis.shapes import store_replacement
from codemods.analysis.values import STORE_MANUAL
from codemods.decisions import chosen
from codemods.edits import Edit
from codemods.rules._rule import Rule, held_back, paren

# store call -> tinyckpt call (only for file paths / file:// URIs and the "latest" / "all" selectors)
STORE_CALLS = {
    "policy_record": "latest_checkpoint(uri)",
    "load_from_uri": "latest_checkpoint(uri)",
    'policy_records(selector_type="all")': "list_checkpoints(uri)",
    'policy_records(selector_type="latest")': "[latest_checkpoint(uri)]",
}
MISSING_ERROR = "FileNotFoundError"  # what latest_checkpoint raises where PolicyMissingError was raised
MISSING_REASON = "PolicyMissingError: tinyckpt raises FileNotFoundError; decide what this handler catches"


class PolicyStoreCalls(Rule):
    NAME = "policy_store"
    DESCRIPTION = ("store.policy_record(uri) / load_from_uri(uri) -> latest_checkpoint(uri); policy_records(uri, "
                   "selector_type='all'/'latest') -> list_checkpoints(uri) / [latest_checkpoint(uri)], where the "
                   "records' whole unit becomes paths; except PolicyMissingError -> FileNotFoundError around them; "
                   "top/rand/metric/stats selectors, wandb:// and pytorch:// URIs, save and wandb uploads -> manual.")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        s = a.solution
        rewritten: set[int] = set()
        for key, call, method, receiver in a.walk.producers:
            if method == "from_key_and_version" or not receiver or not s.has(receiver, K.STORE) or not s.migrates(key):
                continue
            _, name = store_replacement(call, method)
            rewritten.add(id(call))
            yield self.replace(call, f"store.{method}(...) -> {name}(...)",
                               lambda updated, m=method: paren(store_replacement(updated, m)[0], updated),
                               imports=[(a.config.target, name)])
        for node, reason, _, holds in held_back(a, self.NAME):
            yield self.manual(node, reason + holds)
        for receiver, method, site in s.manual_calls:
            node = a.node_of(site)
            if node is not None and s.has(receiver, K.STORE):
                yield self.manual(node, STORE_MANUAL[method])
        yield from self._missing(a, rewritten)

    def _missing(self, a: Analysis, rewritten: set[int]) -> Iterable[Edit]:
        """except PolicyMissingError around store calls: FileNotFoundError when they all became
        latest_checkpoint; every other PolicyMissingError is a person's decision."""
        seen: dict[int, tuple[cst.ExceptHandler, list[bool | None]]] = {}
        for _, call, method, _ in a.walk.producers:
            node: Any = call
            while node is not None and not isinstance(node, cst.Try):
                node = a.parent(node)
            if node is None:
                continue
            for handler in node.handlers:
                if handler.type is not None and a.legacy(handler.type) == "PolicyMissingError":
                    latest = method in ("policy_record", "load_from_uri") and id(call) in rewritten
                    seen.setdefault(id(handler), (handler, []))[1].append(latest if id(call) in rewritten else None)
        fixed = {id(handler.type) for handler, states in seen.values()
                 if any(state is not None for state in states) and all(states)}
        for handler, states in seen.values():
            if id(handler.type) in fixed:
                yield self.replace(handler, f"except PolicyMissingError -> except {MISSING_ERROR}",
                                   lambda updated: updated.with_changes(type=cst.Name(MISSING_ERROR)))
        decided = chosen(a.config.decisions, "missing-error") == "file-not-found"
        for node, legacy, _ in a.walk.legacy_refs:
            if legacy == "PolicyMissingError" and id(node) not in fixed:
                if decided:  # TCK-M106 missing-error = file-not-found
                    yield self.replace(node, f"PolicyMissingError -> {MISSING_ERROR} (decided)",
                                       lambda u: cst.Name(MISSING_ERROR, lpar=getattr(u, "lpar", ()), rpar=getattr(u, "rpar", ())))
                    yield self.note(node, f"TCK-M106 missing-error = file-not-found: {MISSING_ERROR} is what tinyckpt "
                                          "raises when a run has no checkpoint")
                else:
                    yield self.manual(node, MISSING_REASON)
