"""PolicySelectorConfig / PolicySelectorType settings -> manual: tinyckpt has no selectors or metrics.

TCK-M102 selector-config = drop: a class field holding one (`leaderboard: PolicySelectorConfig = ...`) is
removed, with a comment, when nothing in the project uses the field any more: every `field` word in the project's Python files
(and in its YAML, JSON and TOML files) is its definition or a read a decision drops (the `n=` /
`metric=` arguments of a decided selector that migrates), and no construction of the class passes it
positionally. The count is textual, so a coincidental use of the same word elsewhere keeps the field
(and its site manual): never a field some code still reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, cast

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.shapes import code, decided_selector, nodes_of, selector
from codemods.decisions import chosen
from codemods.edits import Edit
from codemods.rules._rule import Rule

SELECTORS = frozenset({"PolicySelectorConfig", "PolicySelectorType"})
REASON = ("{name} (selectors top/rand, metrics) has no tinyckpt counterpart; decide how this setting picks "
          "checkpoints")
DROPPED_ARGS = ("n", "metric", "stats_client", "eval_name")  # what a decided selector no longer passes


def selector_fields(a: Analysis) -> list[tuple[cst.SimpleStatementLine, str]]:
    """(statement, field name) of each class-body field whose statement names a selector class."""
    out: dict[int, tuple[cst.SimpleStatementLine, str]] = {}
    for node, legacy, _ in a.walk.legacy_refs:
        stmt = a.statement_of(node)
        if legacy not in SELECTORS or not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        target = small.target if isinstance(small, cst.AnnAssign) else \
            small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1 else None
        block = a.parent(stmt)
        if isinstance(target, cst.Name) and isinstance(a.parent(block) if block else None, cst.ClassDef):
            out[id(stmt)] = (stmt, target.value)
    return list(out.values())


def dropped_reads(a: Analysis) -> list[tuple[str, str]]:
    """(attribute name, the call's record key) of each attribute read in the arguments that decided store calls
    of this file drop, if they migrate (the solution says at planning time: a call that stays keeps its reads)."""
    names: list[tuple[str, str]] = []
    for key, call, method, _ in a.walk.producers:
        if decided_selector(call, method, a.config.decisions):
            given, _ = selector(call, method)
            for arg in (given[k] for k in DROPPED_ARGS if k in given):
                names += [(n.attr.value, key) for n in nodes_of(arg, cst.Attribute)]
    return names


def _position(a: Analysis, stmt: cst.SimpleStatementLine) -> tuple[str, int]:
    """The class a field statement is in, and how many annotated fields come before it (a dataclass's
    positional index)."""
    block = a.parent(stmt)
    cls = cast(cst.ClassDef, a.parent(block) if block else None)
    body = list(cast(cst.IndentedBlock, block).body)
    before = body[:body.index(stmt)]
    return cls.name.value, sum(1 for s in before if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1
                               and isinstance(s.body[0], cst.AnnAssign))


class PolicySelectorConfig(Rule):
    NAME = "policy_selector_config"
    DESCRIPTION = ("Uses of PolicySelectorConfig / PolicySelectorType (not their imports) -> manual; a field "
                   "holding one goes, with a comment, when decided and nothing uses it any more.")

    @classmethod
    def facts(cls, a: Analysis) -> dict[str, list[Any]]:
        """("selector_fields": names of fields holding a selector setting) and ("selector_reads_dropped":
        attribute names read in arguments decided store calls drop)."""
        out: dict[str, list[Any]] = {}
        if chosen(a.config.decisions, "selector-config") == "drop":
            found = selector_fields(a)
            fields = [(name, *_position(a, stmt)) for stmt, name in found]  # (name, class, index among its fields)
            dropped = dropped_reads(a) + [(name, "") for _, name in found]  # (the definition is one word the runner counts)
            if fields:
                out["selector_fields"] = fields
            if dropped:
                out["selector_reads_dropped"] = dropped
        return out

    def plan(self, a: Analysis) -> Iterable[Edit]:
        gone: set[int] = set()
        if chosen(a.config.decisions, "selector-config") == "drop":
            uses = dict(a.index.get("field_uses", ()))  # (name, count): counted by the runner
            dropped = Counter(name for name, key in a.index.get("selector_reads_dropped", ())
                              if not key or a.solution.migrates(key))
            for stmt, name in selector_fields(a):
                if name in uses and uses[name] <= dropped[name]:
                    gone.add(id(stmt))
                    was = code(stmt.body[0])
                    yield self.remove(stmt, f"selector field {name} removed (decided)", carry="all")
                    yield self.note(stmt, f"TCK-M102 selector-config = drop: tinyckpt has no selectors; was `{was}`")
        seen: set[tuple[int, str]] = set()
        for node, legacy, _ in a.walk.legacy_refs:
            if legacy in SELECTORS:
                stmt = a.statement_of(node)
                key = (id(stmt), legacy)
                if key not in seen and id(stmt) not in gone:  # one site per statement
                    seen.add(key)
                    yield self.manual(node, REASON.format(name=legacy))
