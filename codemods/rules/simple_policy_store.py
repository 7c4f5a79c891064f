"""SimplePolicyStore / PolicyWrapper -> checkpoint paths: records become `latest_checkpoint(uri)` and wrapper
attributes are read from the path (the stores themselves go in simple_store_parameters)."""

from __future__ import annotations

from collections.abc import Iterable

from codemods.analysis import Analysis
from codemods.analysis.graph import K
from codemods.analysis.shapes import (
    HALF_RECORD_CALLS,
    MOCK,
    half_replacement,
    or_mock_decided,
    remote_decided,
    store_replacement,
)
from codemods.edits import Edit
from codemods.rules._rule import Rule, bare_place, held_back, paren
from codemods.rules.checkpoint_manager import _as_value
from codemods.rules.policy_records import ISINSTANCE_PREFIX, path_use, use_imports
from codemods.rules.policy_store import decided_note, remote_edits

STORE, WRAPPER = "SimplePolicyStore", "PolicyWrapper"
NEW_CALL = "latest_checkpoint"  # from the target module: a path, run dir or file:// URI -> checkpoint path
ATTRS = {  # wrapper attribute -> template of its replacement ({} is the record variable, now a path)
    "policy": "torch.load({}, weights_only=False)",
    "uri": "{}",
    "file_path": "{}",
    "run_name": "parse_checkpoint_path({})[0]",
    "epoch": "parse_checkpoint_path({})[1]",
}
AS_VALUE = "PolicyWrapper used as a value (isinstance, a factory, ...); records are checkpoint paths now: decide"
__all__ = ["MOCK", "AS_VALUE", "SimplePolicyStoreRule"]
BUILT = ("PolicyWrapper(...) built by hand; records are checkpoint paths now: pass a path "
         "(checkpoint_path(run, epoch))")


class SimplePolicyStoreRule(Rule):
    NAME = "simple_policy_store"
    DESCRIPTION = ("store.policy_record(uri) / policy_record_or_mock(uri, name) on paths and file:// URIs -> "
                   "latest_checkpoint(uri); wrapper .policy/.uri/.run_name/.metadata.epoch read from the path; "
                   "mocks, other URI schemes and other wrapper attributes -> manual (and the wrapper's whole unit, "
                   "across files, stays as it is).")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        s = a.solution
        raised: set[int] = set()
        for key, call, method, receiver in a.walk.producers:
            if method in HALF_RECORD_CALLS and receiver and s.has(receiver, K.SSTORE) and s.migrates(key):
                decisions = a.config.decisions
                if remote_decided(call, decisions, a.walk.parents):  # TCK-M107 remote-uri = not-implemented
                    yield from remote_edits(self, a, call, raised)
                elif method == "policy_record_or_mock" and or_mock_decided(call, decisions):  # TCK-M105
                    bare = bare_place(a, call)
                    yield self.replace(call, f"{method}(uri) -> {NEW_CALL}(uri) or None (decided)",
                                       lambda updated, m=method, b=bare: paren(store_replacement(updated, m)[0], updated, b),
                                       imports=[(a.config.target, NEW_CALL)])
                    yield self.note(call, decided_note(call, method, decisions) or "")
                else:
                    yield self.replace(call, f"{method}(uri) -> {NEW_CALL}(uri)",
                                       lambda updated: paren(half_replacement(updated), updated),
                                       imports=[(a.config.target, NEW_CALL)])
        for key, node, attr, _ in a.walk.uses:
            if s.is_record(key) and s.migrates(key) and s.is_half(key):
                prefix = "metadata." if attr == "epoch" else ""
                yield self.replace(node, f"PolicyWrapper.{prefix}{attr} -> {ATTRS[attr].format('<path>')}",
                                   lambda updated, at=attr: path_use(updated, at), imports=use_imports(a, attr))
        for node, reason, kind, holds in held_back(a, self.NAME, "record", half=True):
            if not reason.startswith(ISINSTANCE_PREFIX):
                plain = kind in (K.RBLOCK, K.ATTR) or kind.startswith(K.BLOCK)
                yield self.manual(node, (reason if plain else f"a record {reason}; it stays a record") + holds)
        for node, legacy, typing in a.walk.legacy_refs:
            if legacy == WRAPPER and not typing and _as_value(a, node):
                yield self.manual(node, AS_VALUE)
