"""PolicyStore calls that select checkpoints of a file path become tinyckpt calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.graph import K
from codemods.analysis.shapes import (
    code,
    decided_selector,
    nodes_of,
    not_implemented,
    raise_point,
    remote_decided,
    remote_uri,
    selector,
    store_replacement,
    uri_argument,
)
from codemods.analysis.values import STORE_MANUAL
from codemods.decisions import chosen
from codemods.edits import Edit
from codemods.rules._rule import Rule, bare_place, held_back, paren

# store call -> tinyckpt call (only for file paths / file:// URIs and the "latest" / "all" selectors)
STORE_CALLS = {
    "policy_record": "latest_checkpoint(uri)",
    "load_from_uri": "latest_checkpoint(uri)",
    'policy_records(selector_type="all")': "list_checkpoints(uri)",
    'policy_records(selector_type="latest")': "[latest_checkpoint(uri)]",
}
HAND_SAVED = ("PolicyRecord built by hand, saved here: decide where its checkpoint is written (TCK-M103 decides "
              "the record and this save together)")
MISSING_ERROR = "FileNotFoundError"  # what latest_checkpoint raises where PolicyMissingError was raised
MISSING_REASON = "PolicyMissingError: tinyckpt raises FileNotFoundError; decide what this handler catches"


def decided_note(call: cst.Call, method: str, decisions: Mapping[str, str]) -> str | None:
    """The note above a store call a decision rewrote (None: the migration table rewrote it)."""
    if method == "policy_record_or_mock":
        return "TCK-M105 record-or-mock = path-or-none: None where no policy URI is given (no mock policy)"
    given, sel = selector(call, method)
    if decided_selector(call, method, decisions) == "branch":
        return (f"TCK-M114 selector-variable = branch: every checkpoint when {code(given['selector_type'], 60)} is "
                '"all", else the latest')
    if sel in ("top", "rand") and (method == "policy_records" or len(given) > 1) or \
            any(k in given for k in ("metric", "stats_client", "eval_name")):
        ranked = ("by the stats server" if "stats_client" in given or "eval_name" in given else
                  f"by {code(given['metric'], 60)}" if "metric" in given else "")
        was = "a random one" if sel == "rand" else f"the top {ranked}".rstrip()
        return f"TCK-M101 selector-by-metric = latest: the latest checkpoint, no longer {was}"
    return None


_PATH_CALLS = frozenset({"os.path.join", "os.path.abspath", "os.path.realpath", "os.path.normpath", "os.fspath", "str"})


def _only_for_uri(a: Analysis, record: cst.Call) -> cst.SimpleStatementLine | None:
    """The statement `name = <path arithmetic>` whose name only the record's URI (`f"file://{name}"` or `name`)
    reads: it goes with the record."""
    uri = record.args[2].value if len(record.args) > 2 and not record.args[2].keyword else None
    if isinstance(uri, cst.FormattedString) and len(uri.parts) == 2 and \
            isinstance(uri.parts[1], cst.FormattedStringExpression):
        uri = uri.parts[1].expression
    function = a.function_of(record)
    if not isinstance(uri, cst.Name) or function is None:
        return None
    others = [n for n in nodes_of(function.body, cst.Name) if n.value == uri.value and n is not uri and
              not (isinstance(a.parent(n), cst.Attribute) and cast(cst.Attribute, a.parent(n)).attr is n)]
    target = a.parent(others[0]) if len(others) == 1 else None
    assign = a.parent(target) if isinstance(target, cst.AssignTarget) else None
    stmt = a.parent(assign) if isinstance(assign, cst.Assign) and len(assign.targets) == 1 else None
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1) or \
            any(code(c.func) not in _PATH_CALLS for c in nodes_of(cast(cst.Assign, assign).value, cst.Call)):
        return None
    return stmt


def _epoch_of(metadata: cst.BaseExpression) -> cst.BaseExpression | None:
    """The epoch a record's metadata holds: `{"epoch": E}`, or `PolicyMetadata(epoch=E)` / `dict(epoch=E)`."""
    if isinstance(metadata, cst.Dict):
        return next((e.value for e in metadata.elements if isinstance(e, cst.DictElement)
                     and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "epoch"), None)
    if isinstance(metadata, cst.Call):
        return next((x.value for x in metadata.args if x.keyword and x.keyword.value == "epoch"), None)
    return None


def remote_edits(rule: Rule, a: Analysis, call: cst.Call, raised: set[int]) -> Iterable[Edit]:
    """TCK-M107 remote-uri = not-implemented: the call becomes its URI (a record is a path now), and
    `raise NotImplementedError(...)` naming it stands before the statement (what follows is unreachable)."""
    uri, stmt = remote_uri(call), raise_point(a.walk.parents, call)
    assert uri is not None and stmt is not None
    yield rule.replace(call, f"store call on {uri} -> NotImplementedError (decided)",
                       lambda updated: paren(cast(cst.Arg, uri_argument(updated)).value, updated))
    if id(stmt) not in raised:
        raised.add(id(stmt))
        yield rule.note(call, f"TCK-M107 remote-uri = not-implemented: {uri.split('://')[0]}:// checkpoints are not "
                              "loaded any more (the plan drops them)")
        yield rule.replace(stmt, "raise NotImplementedError", lambda updated: cst.FlattenSentinel([
            not_implemented(uri).with_changes(leading_lines=updated.leading_lines),
            updated.with_changes(leading_lines=())]), report=False)


class PolicyStoreCalls(Rule):
    NAME = "policy_store"
    DESCRIPTION = ("store.policy_record(uri) / load_from_uri(uri) -> latest_checkpoint(uri); policy_records(uri, "
                   "selector_type='all'/'latest') -> list_checkpoints(uri) / [latest_checkpoint(uri)], where the "
                   "records' whole unit becomes paths; except PolicyMissingError -> FileNotFoundError around them; "
                   "top/rand/metric/stats selectors, wandb:// and pytorch:// URIs, save and wandb uploads -> manual.")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        s = a.solution
        rewritten: set[int] = set()
        raised: set[int] = set()
        for key, call, method, receiver in a.walk.producers:
            if method == "from_key_and_version" or not receiver or not s.has(receiver, K.STORE) or not s.migrates(key):
                continue
            decisions = a.config.decisions
            if remote_decided(call, decisions, a.walk.parents):
                yield from remote_edits(self, a, call, raised)
                continue
            _, names = store_replacement(call, method, decisions)
            rewritten.add(id(call))
            bare = bare_place(a, call)
            yield self.replace(call, f"store.{method}(...) -> {' / '.join(names)}(...)",
                               lambda updated, m=method, b=bare, d=decisions: paren(store_replacement(updated, m, d)[0],
                                                                                    updated, b),
                               imports=[(a.config.target, name) for name in names])
            decided = decided_note(call, method, decisions)
            if decided:
                yield self.note(call, decided)
        yield from self._hand_saves(a)
        yield from self._uploads(a)
        for node, reason, _, holds in held_back(a, self.NAME):
            yield self.manual(node, reason + holds)
        for receiver, method, site in s.manual_calls:
            node = a.node_of(site)
            if node is not None and s.has(receiver, K.STORE):
                yield self.manual(node, HAND_SAVED if method == "save" and id(node) in a.walk.hand_matched
                                  else STORE_MANUAL[method])
        yield from self._missing(a, rewritten)

    def _hand_saves(self, a: Analysis) -> Iterable[Edit]:
        """TCK-M103 record-built-by-hand = save-checkpoint: `pr = PolicyRecord(store, RUN, URI, {"epoch": E})`,
        `pr.policy = agent`, `store.save(pr)` -> `pr = str(save_checkpoint(agent, RUN, E, base_dir=BASE))`, when
        the record's unit migrates (RUN and E are taken from the constructor as the other edits left it)."""
        for built, (stmts, call, dropped, key) in a.walk.hand_saves.items():
            if not a.solution.migrates(key):
                continue
            record = cast(cst.Assign, stmts[0].body[0]).value  # type: ignore[attr-defined]

            def build(updated: Any, call: cst.Call = call) -> cst.BaseExpression:
                args = {k: v for k, v in zip(("policy_store", "run_name", "uri", "metadata"),
                                             (x.value for x in updated.args if not x.keyword))}
                args.update({x.keyword.value: x.value for x in updated.args if x.keyword})
                epoch = _epoch_of(args["metadata"])
                new = call.with_changes(args=[call.args[0], cst.Arg(args["run_name"]),
                                              cst.Arg(epoch if epoch is not None else call.args[2].value), call.args[3]])
                return cst.Call(cst.Name("str"), [cst.Arg(new)])
            yield self.replace(record, "PolicyRecord built by hand and saved -> save_checkpoint(...) (decided)", build,
                               imports=[(a.config.target, "save_checkpoint")])
            for stmt in stmts[1:]:
                yield self.remove(stmt, "part of save_checkpoint(...)", carry="all", report=False)
            was = code(cast(cst.Call, record).args[2].value)
            unused = _only_for_uri(a, cast(cst.Call, record))
            if unused is not None:  # `path = os.path.join(...)`, read only by the URI that goes
                yield self.remove(unused, "the record's path, not used any more", report=False)
                was = code(cast(cst.Assign, unused.body[0]).value)
            where = f"{code(call.args[3].value, 40)}/{code(call.args[1].value, 40)}/checkpoints/agent_epoch_<epoch>.pt"
            gone = f"; metadata {', '.join(dropped)} no longer saved" if dropped else ""
            yield self.note(record, f"TCK-M103 record-built-by-hand = save-checkpoint: the agent alone, saved as "
                                    f"{where} (was {was}){gone}")

    def _uploads(self, a: Analysis) -> Iterable[Edit]:
        """TCK-M107 remote-uri = not-implemented: a wandb upload statement on a store becomes a raise naming it."""
        for site in a.solution.uploads:
            call = a.node_of(site)
            stmt = a.statement_of(call) if call is not None else None
            if not isinstance(call, cst.Call) or not isinstance(stmt, cst.SimpleStatementLine):
                continue
            method = cast(cst.Attribute, call.func).attr.value
            message = f'"tinyckpt does not upload to wandb ({method}): publish the checkpoint file another way"'
            yield self.replace(stmt, f"store.{method}(...) -> raise NotImplementedError (decided)",
                               lambda updated, m=message: updated.with_changes(body=[cst.Raise(cst.Call(
                                   cst.Name("NotImplementedError"), [cst.Arg(cst.SimpleString(m))]))]))
            yield self.note(call, "TCK-M107 remote-uri = not-implemented: wandb uploads are not done any more (the plan "
                                  "drops them)")

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
