"""Solving the value graph of the whole tree: unify, run the deferred operations, judge every unit.

`Solution` merges every module's `Graph` (union-find with congruence on children, so a list's
elements unify when two lists do), resolves calls against the tree's signatures (subclass overrides
too), then computes the verdicts: `migrates(key)` (the value's whole unit becomes paths),
`blockers` (why a unit stays records, with the site of each reason) and, for stores,
`store_removable(key)` (nothing downstream still needs it, judged per key and direction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from codemods.rules._dataflow import (
    CONTAINER_METHODS,
    PATH_TAG,
    PRODUCER_METHODS,
    Graph,
)


class Solution:
    """The merged graph of the tree: components, facts, units, verdicts."""

    def __init__(self, graphs: Iterable[Graph]) -> None:
        self.parent: dict[str, str] = {}
        self.children: dict[str, dict[str, str]] = {}
        self.facts: dict[str, set[tuple[str, str, str]]] = {}
        self.sigs: dict[str, tuple[tuple[str, ...], bool]] = {}
        self.fixtures: dict[str, dict[str, str]] = {}  # module -> fixture name -> qualname
        self.arg_param: dict[str, str] = {}  # arg site -> parameter key
        self.bases: dict[str, tuple[str, ...]] = {}
        self.flows: list[tuple[str, str, str]] = []  # key, how, detail
        self.fnrefs: set[str] = set()
        self.unresolved: set[str] = set()
        self.manual_calls: list[tuple[str, str, str]] = []  # receiver key, method, site
        self.receivers: list[tuple[str, str]] = []  # producer key, receiver key
        graphs = list(graphs)
        ops: list[tuple[Any, ...]] = []
        for g in graphs:
            self.sigs.update(g.sigs)
            self.bases.update(g.bases)
            self.fixtures[g.module] = dict(g.fixtures)
            self.fnrefs |= g.fnrefs
            self.unresolved |= g.unresolved
            self.flows.extend(g.occurrences)
        for g in graphs:
            for a, b in g.unions:
                self.union(a, b)
            for key, kind, reason, site in g.facts:
                self.facts.setdefault(self.find(key), set()).add((kind, reason, site))
            ops.extend(g.ops)
        for op in ops:
            if op[0] == "child":
                self._link(op[1], op[2], op[3])
        self._inherit_attributes()
        self._run([op for op in ops if op[0] != "child"])
        self._verdicts()

    # union-find with congruence on children ----------------------------------------------------
    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        self.facts.setdefault(ra, set()).update(self.facts.pop(rb, set()))
        moved = self.children.pop(rb, {})
        for label, child in moved.items():
            self._link(ra, label, child)

    def _link(self, key: str, label: str, child: str) -> None:
        root = self.find(key)
        mine = self.children.setdefault(root, {})
        if label in mine:
            self.union(mine[label], child)
        else:
            mine[label] = child
            self.find(child)

    def child(self, key: str, label: str) -> str:
        root = self.find(key)
        existing = self.children.get(root, {}).get(label)
        if existing:
            return existing
        self._link(root, label, f"{root}{label}")
        return self.children[self.find(root)][label]

    def kinds(self, key: str) -> set[str]:
        return {k for k, _, _ in self.facts.get(self.find(key), set())}

    def has(self, key: str, kind: str) -> bool:
        return any(k == kind or k.startswith(kind + ":") for k in self.kinds(key))

    def type_of(self, key: str) -> str | None:
        types = sorted(k[5:] for k in self.kinds(key) if k.startswith("type:"))
        return types[0] if types else None

    def add(self, key: str, kind: str, reason: str, site: str = "") -> None:
        if key and key != "NONE":
            self.facts.setdefault(self.find(key), set()).add((kind, reason, site))

    # deferred operations -------------------------------------------------------------------------
    def _run(self, pending: list[tuple[Any, ...]]) -> None:
        final = False
        while pending:
            left = [op for op in pending if not self._apply(op, final)]
            if len(left) == len(pending):
                if final:
                    break
                final = True
            else:
                final = False
            pending = left

    def _apply(self, op: tuple[Any, ...], final: bool) -> bool:
        kind = op[0]
        if kind == "call":
            _, callee, args, result, bound, site = op
            self.bind_call(callee, args, result, bound, site)
        elif kind == "producer":
            _, producer, receiver, method = op
            if not receiver or not self.has(receiver, "store"):
                return final  # not (yet) known to be a PolicyStore: not a record source
            record = self.child(producer, "[]") if method == "policy_records" else producer
            self.add(record, "rec", f"store.{method}(...)")
            self.receivers.append((producer, receiver))
        elif kind == "manual_call":
            self.manual_calls.append((op[1], op[2], op[3]))
        elif kind == "fixture":
            _, param, name, module = op
            fixture = self._fixture(name, module)
            if fixture:
                self.union(param, f"r:{fixture}")
                self.flows.append((f"r:{fixture}", "fixture", param))
        elif kind == "mcall":
            _, receiver, attr, args, result, site = op
            t = self.type_of(receiver)
            if t and (f"{t}.{attr}" in self.sigs):
                self.bind_call(f"{t}.{attr}", args, result, True, site)
                return True
            if not final:
                return False
            self.unresolved.add(attr)
            self.add(receiver, "attr", attr, site)
            for kw, key, asite in args:
                self.add(key, "esc", f"passed to .{attr}(), which this tool cannot follow", asite)
            self.add(result, "unk", f"returned by .{attr}()", site)
        elif kind == "unpack":
            _, container, i, item = op
            if self.has(container, "list"):
                self.union(item, self.child(container, "[]"))
            elif not final and not self.children.get(self.find(container), {}).get(f"({i})"):
                return False
            else:
                self.union(item, self.child(container, f"({i})"))
        elif kind == "sub":
            _, result, container, is_int, site = op
            if self.has(container, "dict"):
                self.union(result, self.child(container, "{v}"))
            elif self.has(container, "list") or (final and is_int):
                self.union(result, self.child(container, "[]"))
            elif not final:
                return False
            else:
                self.add(container, "esc", "subscripted where this tool cannot tell a list from a dict", site)
                self.add(result, "unk", "subscript", site)
        elif kind in ("setsub", "setsub_unk"):
            container = op[1]
            is_dict, is_list = self.has(container, "dict"), self.has(container, "list")
            if not (is_dict or is_list) and not final:
                return False
            if kind == "setsub_unk":
                self.add(self.child(container, "{v}" if is_dict else "[]"), "unk", op[2], op[3])
                return True
            _, _, index, value, site = op
            if is_dict:
                if index:
                    self.union(self.child(container, "[]"), index)
                if value:
                    self.union(self.child(container, "{v}"), value)
            elif is_list:
                if value:
                    self.union(self.child(container, "[]"), value)
            else:
                self.add(container, "esc", "item assignment", site)
                self.add(value, "esc", "stored by item assignment", site)
        return True

    def _fixture(self, name: str, module: str) -> str | None:
        own = self.fixtures.get(module, {}).get(name)
        if own:
            return own
        package = module.rpartition(".")[0]
        while True:
            found = self.fixtures.get(f"{package}.conftest" if package else "conftest", {}).get(name)
            if found or not package:
                return found
            package = package.rpartition(".")[0]

    def ancestors(self, cls: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.bases.get(cls, ()))
        while todo:
            base = todo.pop()
            if base not in seen:
                seen.add(base)
                todo.extend(self.bases.get(base, ()))
        return seen

    def _inherit_attributes(self) -> None:
        """`self.x` of a subclass is the `self.x` its base classes set and read."""
        for key in [k for k in self.parent if k.startswith("a:")]:
            cls, _, attr = key[2:].rpartition(":")
            for base in self.ancestors(cls):
                self.union(key, f"a:{base}:{attr}")

    def overrides(self, method: str) -> list[str]:
        """`C.m` and every `D.m` of a subclass D of C in the tree (a call of C.m may run any of them)."""
        cls, _, name = method.rpartition(".")
        return [method] + sorted(f"{d}.{name}" for d in self.bases if cls in self.ancestors(d) and f"{d}.{name}" in self.sigs)

    def map_args(self, callee: str, args: list[tuple[str, str, str]], bound: bool) -> tuple[str | None, dict[str, str]]:
        """The function (or class __init__) a call reaches, and arg site -> parameter key ('' if none)."""
        init = f"{callee}.__init__"
        is_class = callee not in self.sigs and init in self.sigs
        target = init if is_class else callee
        sig = self.sigs.get(target)
        if sig is None:
            return None, {}
        names, skip_first = sig
        positional = [n for n in names if not n.startswith("*")][1 if skip_first and (bound or is_class) else 0:]
        out: dict[str, str] = {}
        for i, (kw, key, site) in enumerate(a for a in args if not a[0]):
            out[site] = f"p:{target}:{positional[i]}" if i < len(positional) else ""
        for kw, key, site in (a for a in args if a[0]):
            ok = kw != "*" and (kw in names or f"*{kw}" in names)
            out[site] = f"p:{target}:{kw}" if ok else ""
        return target, out

    def bind_call(self, callee: str, args: list[tuple[str, str, str]], result: str, bound: bool, site: str) -> None:
        if bound and not callee.endswith(".__init__"):
            for override in self.overrides(callee)[1:]:
                self._bind_one(override, args, result, bound, site)
        self._bind_one(callee, args, result, bound, site)

    def _bind_one(self, callee: str, args: list[tuple[str, str, str]], result: str, bound: bool, site: str) -> None:
        target, mapping = self.map_args(callee, args, bound)
        if target is None:
            for kw, key, asite in args:
                self.add(key, "esc", f"passed to {callee.rpartition('.')[2]}(), which this tool cannot follow", asite)
            self.add(result, "unk", f"returned by {callee}()", site)
            return
        for kw, key, asite in args:
            param = mapping.get(asite, "")
            if param:
                self._arg(param, key, asite)
            else:
                self.add(key, "esc", f"passed to {callee} as an argument this tool cannot place", asite)
                if kw == "*" or not kw:
                    self.fnrefs.add(target)  # cannot tell which parameters these fill
        if target == f"{callee}.__init__":
            self.add(result, f"type:{callee}", "constructed")
        else:
            self.union(result, f"r:{callee}")

    def _arg(self, param: str, key: str, site: str) -> None:
        self.arg_param[site] = param
        if "dispatch" in self.kinds(param):
            return  # the callee tells records from other values itself (isinstance): nothing flows
        if key == "NONE":
            return
        if key:
            self.union(param, key)
        else:
            self.add(param, "unk", "an argument this tool cannot follow", site)

    # verdicts ---------------------------------------------------------------------------------------
    def _verdicts(self) -> None:
        self.unit_parent: dict[str, str] = {}
        roots = {self.find(k) for k in list(self.parent)}
        for root in roots:
            self._unit_find(root)
            for child in self.children.get(root, {}).values():
                self._unit_union(root, self.find(child))
        self.relevant = {root for root in roots if self._rec_below(root, 0)}
        # legacy: a record that is not yet a tinyckpt path, or a record attribute still read
        self.legacy_units = {self._unit_find(r) for r in roots if any(
            (k == "rec" and not reason.startswith(PATH_TAG)) or (k == "use" and self.has(r, "rec"))
            for k, reason, _ in self.facts.get(r, set()))}
        self.blockers: dict[str, list[tuple[str, str, str]]] = {}
        for root in roots:
            unit = self._unit_find(root)
            for kind, reason, site in sorted(self.facts.get(root, set())):
                bad = kind == "block" or (root in self.relevant and kind in ("unk", "esc", "rblock"))
                if root in self.relevant and kind == "attr":
                    bad = self.has(root, "rec") or reason not in CONTAINER_METHODS
                    reason = f".{reason}: not a record attribute with a tinyckpt counterpart"
                if root in self.relevant and kind == "mock":
                    bad, reason = True, f"a test double ({reason}) stands in for a record"
                if bad:
                    self.blockers.setdefault(unit, []).append((kind, reason, site))
        for producer, receiver in self.receivers:
            if not self.genuine_store(receiver):
                unit = self.unit(producer)
                self.blockers.setdefault(unit, []).append(
                    ("block", "store call on a value this tool cannot prove is a PolicyStore", ""))
        self._stores()

    def _rec_below(self, root: str, depth: int) -> bool:
        if self.has(root, "rec"):
            return True
        return depth < 4 and any(self._rec_below(self.find(c), depth + 1) for c in self.children.get(root, {}).values())

    def _unit_find(self, key: str) -> str:
        self.unit_parent.setdefault(key, key)
        while self.unit_parent[key] != key:
            self.unit_parent[key] = self.unit_parent[self.unit_parent[key]]
            key = self.unit_parent[key]
        return key

    def _unit_union(self, a: str, b: str) -> None:
        ra, rb = self._unit_find(a), self._unit_find(b)
        if ra != rb:
            self.unit_parent[rb] = ra

    def unit(self, key: str) -> str:
        return self._unit_find(self.find(key))

    def is_record(self, key: str) -> bool:
        return self.has(key, "rec")

    def is_legacy(self, key: str) -> bool:
        """The value's unit holds legacy records (not only values that are tinyckpt paths already)."""
        return self.unit(key) in self.legacy_units

    def migrates(self, key: str) -> bool:
        """True when the value's whole unit becomes paths."""
        return self.is_legacy(key) and not self.blockers.get(self.unit(key))

    def reasons(self, key: str) -> list[tuple[str, str, str]]:
        return self.blockers.get(self.unit(key), [])

    # stores ----------------------------------------------------------------------------------------
    def genuine_store(self, key: str) -> bool:
        """Only PolicyStore constructions, annotations and untouched test doubles flow here."""
        facts = self.facts.get(self.find(key), set())
        kinds = {k for k, _, _ in facts}
        if "store" not in kinds or "unk" in kinds or "esc" in kinds:
            return False
        return not any(k == "attr" and r not in PRODUCER_METHODS for k, r, _ in facts)

    def _stores(self) -> None:
        """needed: store keys something legacy still uses (directional: a use needs its sources)."""
        by_key: dict[str, list[tuple[str, str]]] = {}
        for key, how, detail in self.flows:
            by_key.setdefault(key, []).append((how, detail))
        self.needed: set[str] = set()
        self._fixture_qualnames = self.fixture_names()
        for receiver, _, _ in self.manual_calls:
            self.needed.add(receiver)
        for producer, receiver in self.receivers:
            if not self.migrates(producer):
                self.needed.add(receiver)
        changed = True
        while changed:
            changed = False
            for key, occurrences in by_key.items():
                if key in self.needed:
                    continue
                if any(self._occurrence_needs(key, how, detail) for how, detail in occurrences):
                    self.needed.add(key)
                    changed = True

    def _occurrence_needs(self, key: str, how: str, detail: str) -> bool:
        if how == "other":
            return True
        if how == "recv":
            return False  # judged above from the producer
        if how == "arg":
            param = self.arg_param.get(detail)
            return param is None or param in self.needed or not self.param_removable(param)
        if how in ("assign", "fixture"):
            if detail.startswith("r:") and detail[2:] not in self._fixture_qualnames:
                return True  # a store returned from an ordinary function: its callers keep it
            return detail in self.needed or not detail
        if how == "return":
            return True
        return True

    def param_removable(self, param: str) -> bool:
        """Every call of the parameter's function is known (no reference, no untyped method call)."""
        fn = param[2:].rpartition(":")[0]
        cls, _, name = fn.rpartition(".")
        if fn in self.fnrefs or (name == "__init__" and cls in self.fnrefs):
            return False
        is_method = self.sigs.get(fn, ((), False))[1]
        if is_method and name != "__init__" and (len(self.overrides(fn)) > 1 or any(
                f"{base}.{name}" in self.sigs for base in self.ancestors(cls))):
            return False  # an override (or the method it overrides) must keep the same parameters
        return not (is_method and name != "__init__" and name in self.unresolved)

    def store_removable(self, key: str) -> bool:
        """A store key nothing legacy needs any more (its bindings can go)."""
        return self.has(key, "store") and key not in self.needed

    def fixture_names(self) -> set[str]:
        return {q for names in self.fixtures.values() for q in names.values()}


def solve(own: Graph, index: Mapping[str, Any], index_key: str) -> Solution:
    """The whole tree: every other module's graph from the index, and this module's `own`."""
    graphs = [g for g in index.get(index_key, []) if isinstance(g, Graph) and g.module != own.module]
    graphs.append(own)
    return Solution(graphs)
