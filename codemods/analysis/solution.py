"""The whole tree's value graph, solved once: unify, resolve the deferred operations, judge every unit.

`Solution` merges every module's `Graph` (union-find with congruence on children, so a list's elements
unify when two lists do), binds calls to the tree's signatures (subclass overrides too), then decides:

- units: a value with its containers and elements (and a manager with the trainer-state dicts it
  loads). A unit that holds legacy values (records, managers) migrates all or nothing: `migrates(key)`
  is True only when no site of the unit, in any file, has to stay legacy (`blockers`);
- stores: `store_removable(key)` when nothing legacy needs the store any more (directional: a use
  needs its sources), and `param_removable(param)` when every call of the function is known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from codemods.analysis.graph import (
    PATH_TAG,
    STORES,
    SUPER,
    CallOp,
    ChildOp,
    FixtureOp,
    Graph,
    K,
    MethodCallOp,
    Op,
    ProducerOp,
    SetItemOp,
    SetItemUnknownOp,
    StoreCallOp,
    SubscriptOp,
    UnpackOp,
    block,
    render,
)
from codemods.legacy import STORE_UPLOADS

_NO_KINDS: frozenset[str] = frozenset()
CONTAINER_METHODS = frozenset({"items", "keys", "values", "get", "append", "extend", "sort", "copy", "count",
                               "index", "clear", "__getitem__", "__contains__"})
DICT_METHODS = frozenset(dir(dict))
STORE_PRODUCERS = {K.STORE: frozenset({"policy_record", "load_from_uri", "policy_records", "policy_record_or_mock"}),
                   K.SSTORE: frozenset({"policy_record", "policy_record_or_mock"})}
STORE_SAVE_STAYS = "a store's save stays legacy (a manual site)"
# PolicyStore methods without counterpart: their calls are manual sites (a store they are called on is one)
STORE_OTHER_METHODS = frozenset({"save"}) | STORE_UPLOADS
MANAGER_ATTRS = frozenset({"run_name", "checkpoint_dir", "run_dir", "base_dir"})
WRITES = frozenset({"save_agent", "save_trainer_state"})  # manager methods that write checkpoints
STATE_ESCAPES = ("the trainer state leaves this function; its key 'optimizer_state' is now 'optimizer' (what "
                 "save_checkpoint saves): update the code that reads it")
UNSEEN = "received by {fn}'s parameter {param}, and {fn} is also called from where this tool cannot see"
NO_CALLER = "received by {fn}'s parameter {param}, and nothing in the project calls {fn}: where it comes from cannot be seen"
ISOLATED = "callers in other files are not known"
Blocker = tuple[str, str, str, str]  # kind, reason, site, family ("record" | "manager" | "" for a `block:<rule>`)


class Solution:
    """The merged graph of the tree: components, facts, units, verdicts."""

    def __init__(self, graphs: Iterable[Graph], alone: bool = False, frozen: Iterable[str] = ()) -> None:
        #: modules read for their facts but not rewritten (outside the paths of the run): whatever their
        #: code does with a value stays as it is, so the value's whole unit stays legacy
        self.frozen = frozenset(frozen)
        self.callers: dict[str, set[str]] = {}  # function -> the modules that call it
        self.parent: dict[str, str] = {}
        self.children: dict[str, dict[str, str]] = {}
        self.facts: dict[str, set[tuple[str, str, str]]] = {}
        self._kinds: dict[str, set[str]] = {}  # root -> the kinds of its facts (kept with `facts`)
        self._members: dict[str, set[str]] | None = None  # unit -> its sites (see members)
        self.sigs: dict[str, tuple[tuple[str, ...], bool]] = {}
        self.fixtures: dict[str, dict[str, str]] = {}  # module -> fixture name -> qualname
        self.arg_param: dict[str, str] = {}  # arg site -> parameter key
        self.bases: dict[str, tuple[str, ...]] = {}
        self.flows: list[tuple[str, str, str]] = []  # key, how, detail
        self.fnrefs: set[str] = set()
        self.tests: set[str] = set()  # functions pytest calls
        self.unresolved: set[str] = set()
        self.called: set[str] = set()  # functions some call in the tree reaches
        self.manual_calls: list[tuple[str, str, str]] = []  # receiver key, method, site
        self.receivers: list[tuple[str, str, str]] = []  # producer key, receiver key, call site
        self.manager_calls: dict[str, str] = {}  # call site -> receiver key (calls on managers)
        self.writers: list[tuple[str, str]] = []  # (key, site) of calls that write agent checkpoints
        self.readers: list[str] = []  # keys of values that read agent checkpoints
        self.unit_links: list[tuple[str, str]] = []  # keys that migrate together beyond containment
        self.state_loads: list[tuple[str, str]] = []  # trainer-state dict key, the load_trainer_state() call site
        self.places: dict[str, str] = {}  # site key -> the module it is in
        self.pair_writes: list[str] = []  # sites of the trainer's save pairs (see values.Builder)
        self.pairs_held = ""  # why the trainer's save pairs stay legacy (checkpoints legacy code writes), or ""
        self.uploads: set[str] = set()  # sites of decided wandb uploads on a store (each statement becomes a raise)
        self.staying_writes: dict[str, str] = {}  # a staying writer unit with no blocker of its own -> its write site
        self.outside_readers = ""  # a module outside the run's paths that reads agent checkpoints the legacy way
        graphs = list(graphs)
        self.modules = frozenset(g.module for g in graphs)
        ops: list[Op] = []
        for g in graphs:
            self.sigs.update(g.sigs)
            self.bases.update(g.bases)
            self.fixtures[g.module] = dict(g.fixtures)
            self.fnrefs |= g.fnrefs
            self.tests |= g.tests
            self.flows.extend(g.occurrences)
            self.places.update(g.places)
            self.pair_writes.extend(g.writes)
        for g in graphs:
            for a, b in g.unions:
                self.union(a, b)
            for fact in g.facts:
                self.add(fact.key, fact.kind, fact.reason, fact.site)
            ops.extend(g.ops)
        for op in ops:
            if isinstance(op, ChildOp):
                self._link(op.key, op.label, op.child)
        self._inherit_attributes()
        self._run([op for op in ops if not isinstance(op, ChildOp)])
        if not alone:  # (run alone, every parameter already may receive anything)
            self._unseen_callers()
        self._verdicts()

    # union-find with congruence on children ------------------------------------------------------------
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
        for table in (self.facts, self._kinds):
            mine, theirs = table.get(ra, set()), table.pop(rb, set())
            if len(theirs) > len(mine):  # merge the smaller set into the bigger (unions cost no more than the facts)
                mine, theirs = theirs, mine
            mine.update(theirs)
            table[ra] = mine
        self.parent[rb] = ra
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
        return self._kinds.get(self.find(key), _NO_KINDS)

    def has(self, key: str, kind: str) -> bool:
        return any(k == kind or k.startswith(kind + ":") for k in self.kinds(key))

    def type_of(self, key: str) -> str | None:
        types = sorted(k[len(K.TYPE) + 1:] for k in self.kinds(key) if k.startswith(K.TYPE + ":"))
        return types[0] if types else None

    def add(self, key: str, kind: str, reason: str, site: str = "") -> None:
        if key and key != "NONE":
            root = self.find(key)
            self.facts.setdefault(root, set()).add((kind, reason, site))
            self._kinds.setdefault(root, set()).add(kind)

    # deferred operations --------------------------------------------------------------------------------
    def _run(self, pending: list[Op]) -> None:
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

    def _apply(self, op: Op, final: bool) -> bool:
        if isinstance(op, CallOp):
            self.bind_call(op.callee, op.args, op.result, op.bound, op.site)
        elif isinstance(op, ProducerOp):
            return self._producer(op, final)
        elif isinstance(op, StoreCallOp):
            self.manual_calls.append((op.receiver, op.method, op.site))
            if op.method == "save" and not op.private:  # (a private file: no tinyckpt reader lists it)
                self.writers.append((op.receiver, op.site))
        elif isinstance(op, FixtureOp):
            fixture = self._fixture(op.name, op.module)
            if fixture:
                self.union(op.param, f"r:{fixture}")
                self.flows.append((f"r:{fixture}", "fixture", op.param))
        elif isinstance(op, MethodCallOp):
            return self._method_call(op, final)
        elif isinstance(op, UnpackOp):
            if self.has(op.container, K.LIST):
                self.union(op.item, self.child(op.container, "[]"))
            elif not final and not self.children.get(self.find(op.container), {}).get(f"({op.index})"):
                return False
            else:
                self.union(op.item, self.child(op.container, f"({op.index})"))
        elif isinstance(op, SubscriptOp):
            element = f"({op.index})" if op.index is not None else None
            if element and element in self.children.get(self.find(op.container), {}):  # a tuple's element
                self.union(op.result, self.child(op.container, element))
            elif self.has(op.container, K.DICT) or self.has(op.container, K.TSTATE):
                self.union(op.result, self.child(op.container, "{v}"))
            elif self.has(op.container, K.LIST) or (final and op.is_int):
                self.union(op.result, self.child(op.container, "[]"))
            elif not final:
                return False
            else:
                self.add(op.container, K.ESC, "subscripted where this tool cannot tell a list from a dict", op.site)
                self.add(op.result, K.UNK, "subscript", op.site)
        elif isinstance(op, (SetItemOp, SetItemUnknownOp)):
            return self._set_item(op, final)
        return True

    def _producer(self, op: ProducerOp, final: bool) -> bool:
        kinds = [k for k in STORES if op.receiver and self.has(op.receiver, k)]
        if not kinds:
            if not final:
                return False  # not (yet) known to be a store: not a record source
            if op.full_problem:
                self.add(op.key, block("policy_store"), op.full_problem, op.site)
            return True
        kind = kinds[0]
        if op.method == "save" and kind == K.STORE:  # a record built by hand and saved (TCK-M103 decided)
            self.writers.append((op.key, op.site))
            self.receivers.append((op.key, op.receiver, op.site))
            return True
        if op.method not in STORE_PRODUCERS[kind]:
            return True
        record = self.child(op.key, "[]") if op.method == "policy_records" else op.key
        self.add(record, K.REC, f"store.{op.method}(...)")
        self.readers.append(op.key)
        problem = op.full_problem if kind == K.STORE else op.half_problem
        if kind == K.SSTORE:
            self.add(record, "half", "")
        if problem:
            self.add(op.key, block("policy_store" if kind == K.STORE else "simple_policy_store"), problem, op.site)
        self.receivers.append((op.key, op.receiver, op.site))
        return True

    def _method_call(self, op: MethodCallOp, final: bool) -> bool:
        method = self.method_of(op.receiver, op.attr)
        if method:  # the definition its class inherits, and (bind_call) every override below that class
            self.bind_call(method, op.args, op.result, True, op.site)
            return True
        if not final:
            return False
        if self.has(op.receiver, K.MGR):
            self.manager_calls[op.site] = op.receiver
            (self.writers.append((op.receiver, op.site)) if op.attr in WRITES else self.readers.append(op.receiver))
            if op.manager_problem:
                self.add(op.receiver, block("checkpoint_manager"), op.manager_problem, op.site)
            if op.attr == "load_trainer_state":
                self.add(op.result, K.TSTATE, "load_trainer_state()")
                self.unit_links.append((op.receiver, op.result))
                self.state_loads.append((op.result, op.site))
            for arg in op.args:
                self.add(arg.key, K.ESC, f"passed to .{op.attr}() of a SimpleCheckpointManager", arg.site)
                if arg.key:
                    self.unit_links.append((op.receiver, arg.key))  # it goes (or stays) with the manager
            return True
        if op.upload and self.is_store(op.receiver):  # decided (TCK-M107): the statement becomes a raise
            self.uploads.add(op.site)
            return True
        if self.is_store(op.receiver):
            for arg in op.args:
                self.add(arg.key, K.SINK, f"passed to {op.attr}() of a legacy store, which stays", arg.site)
        self.unresolved.add(op.attr)
        self.add(op.receiver, K.ATTR, op.attr, op.site)
        for arg in op.args:
            self.add(arg.key, K.ESC, f"passed to .{op.attr}(), which this tool cannot follow", arg.site)
        self.add(op.result, K.UNK, f"returned by .{op.attr}()", op.site)
        return True

    def _set_item(self, op: SetItemOp | SetItemUnknownOp, final: bool) -> bool:
        is_dict, is_list = self.has(op.container, K.DICT), self.has(op.container, K.LIST)
        if not (is_dict or is_list) and not final:
            return False
        if isinstance(op, SetItemUnknownOp):
            self.add(self.child(op.container, "{v}" if is_dict else "[]"), K.UNK, op.reason, op.site)
            return True
        if is_dict:
            if op.index:
                self.union(self.child(op.container, "[]"), op.index)
            if op.value:
                self.union(self.child(op.container, "{v}"), op.value)
        elif is_list:
            if op.value:
                self.union(self.child(op.container, "[]"), op.value)
        else:
            self.add(op.container, K.ESC, "item assignment", op.site)
            self.add(op.value, K.ESC, "stored by item assignment", op.site)
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

    def mro(self, cls: str) -> list[str]:
        """A first-party class and its first-party bases, in lookup order (left to right, depth first,
        each once: C3 for the hierarchies that matter here)."""
        order: list[str] = []

        def visit(c: str) -> None:
            if c not in order:
                order.append(c)
                for base in self.bases.get(c, ()):
                    visit(base)
        visit(cls)
        return order

    def method_of(self, receiver: str, name: str) -> str | None:
        """The method `receiver.name(...)` runs, by the receiver's first-party class; for `super().name(...)`,
        the first base (in MRO order) that defines it."""
        t = self.type_of(receiver)
        if t and t.startswith(SUPER):
            return next((m for m in (self.lookup(b, name) for b in self.mro(t[len(SUPER):])[1:]) if m), None)
        return self.lookup(t, name) if t else None

    def lookup(self, cls: str, name: str) -> str | None:
        """The method `name` an instance of `cls` runs: its own, else the first base's that defines it."""
        return next((f"{c}.{name}" for c in self.mro(cls) if f"{c}.{name}" in self.sigs), None)

    def _plain_class(self, cls: str) -> bool:
        """A first-party class whose bases are all first-party (so no __init__ anywhere means object's)."""
        return cls in self.bases and all(b in self.bases or b == "builtins.object" for c in self.mro(cls)
                                         for b in self.bases.get(c, ()))

    def map_args(self, callee: str, args: Iterable[Any], bound: bool) -> tuple[str | None, dict[str, str]]:
        """The function (or class __init__) a call reaches, and arg site -> parameter key ('' if none)."""
        args = list(args)
        is_class = callee not in self.sigs and callee in self.bases
        init = (self.lookup(callee, "__init__") or f"{callee}.__init__") if is_class else f"{callee}.__init__"
        if is_class and init not in self.sigs and not args and self._plain_class(callee):
            return init, {}  # object.__init__: nothing is passed
        is_class = is_class or (callee not in self.sigs and init in self.sigs)
        target = init if is_class else callee
        sig = self.sigs.get(target)
        if sig is None:
            return None, {}
        names, skip_first = sig
        positional = [n for n in names if not n.startswith("*")][1 if skip_first and (bound or is_class) else 0:]
        out: dict[str, str] = {}
        for i, arg in enumerate(a for a in args if not a.keyword):
            out[arg.site] = f"p:{target}:{positional[i]}" if i < len(positional) else ""
        for arg in (a for a in args if a.keyword):
            ok = arg.keyword != "*" and (arg.keyword in names or f"*{arg.keyword}" in names)
            out[arg.site] = f"p:{target}:{arg.keyword}" if ok else ""
        return target, out

    def bind_call(self, callee: str, args: Iterable[Any], result: str, bound: bool, site: str) -> None:
        args = tuple(args)
        if bound and not callee.endswith(".__init__"):
            for override in self.overrides(callee)[1:]:
                self._bind_one(override, args, result, bound, site)
        self._bind_one(callee, args, result, bound, site)

    def _bind_one(self, callee: str, args: tuple[Any, ...], result: str, bound: bool, site: str) -> None:
        target, mapping = self.map_args(callee, args, bound)
        if target is None:
            for arg in args:
                self.add(arg.key, K.ESC, f"passed to {callee.rpartition('.')[2]}(), which this tool cannot follow",
                         arg.site)
            self.add(result, K.UNK, f"returned by {callee}()", site)
            return
        if target in self.sigs:
            self.called.add(target)
            self.callers.setdefault(target, set()).add(self.places.get(site, ""))
        for arg in args:
            param = mapping.get(arg.site, "")
            if param:
                self._arg(param, arg.key, arg.site)
            else:
                self.add(arg.key, K.ESC, f"passed to {callee} as an argument this tool cannot place", arg.site)
                if arg.keyword == "*" or not arg.keyword:
                    self.fnrefs.add(target)  # cannot tell which parameters these fill
        if target.endswith(".__init__") and callee in self.bases:
            self.add(result, f"{K.TYPE}:{callee}", "constructed")
        else:
            self.union(result, f"r:{callee}")

    def _arg(self, param: str, key: str, site: str) -> None:
        self.arg_param[site] = param
        if K.DISPATCH in self.kinds(param):
            return  # the callee tells records from other values itself (isinstance): nothing flows
        if key == "NONE":
            return
        if key:
            self.union(param, key)
        else:
            fn, _, name = param[2:].rpartition(":")
            self.add(param, K.UNK, f"passed to {fn.rpartition('.')[2]}() as {name} from an expression this tool "
                                   "cannot follow", site)

    def _unseen_callers(self) -> None:
        """Where a parameter's value comes from, when the tree does not show it: its function is passed
        around (or called on receivers this tool cannot type), so it may receive anything; or nothing in
        the project calls it, and then only a legacy annotation of the parameter itself says what it is."""
        for fn, (names, _) in self.sigs.items():
            if fn in self.tests:
                continue
            cls, _, name = fn.rpartition(".")
            unseen = fn in self.fnrefs or (name == "__init__" and cls in self.fnrefs) or \
                (self.sigs[fn][1] and name != "__init__" and name in self.unresolved)
            if unseen and name != "__init__" and f"r:{fn}" in self.parent:  # what it returns goes there too
                site = next((site for k, r, site in self.facts.get(self.find(f"r:{fn}"), ()) if k == K.RET and r == fn), "")
                self.add(f"r:{fn}", K.ESC, "returned from a nested function" if ".<locals>." in fn else
                         f"returned by {name}(), which is also called from where this tool cannot see", site)
            if not unseen and fn in self.called:
                continue
            for param in names:
                param = param.lstrip("*")
                key = f"p:{fn}:{param}"
                origin = next(((r, site) for k, r, site in self.facts.get(self.find(key), ())
                               if k == K.ORIGIN and r.partition("|")[0] == key), None)
                if origin is None:
                    continue
                annotated, site = origin[0].endswith("|annotated"), origin[1]
                if unseen:
                    self.add(key, K.UNK, UNSEEN.format(fn=name + "()", param=param), site)
                elif not annotated:
                    self.add(key, K.UNK, NO_CALLER.format(fn=name + "()", param=param), site)

    # verdicts -----------------------------------------------------------------------------------------------
    def _verdicts(self) -> None:
        self.unit_parent: dict[str, str] = {}
        roots = {self.find(k) for k in list(self.parent)}
        for root in roots:
            self._unit_find(root)
            for child in self.children.get(root, {}).values():
                self._unit_union(root, self.find(child))
        for a, b in self.unit_links:
            self._unit_union(self.find(a), self.find(b))
        self.record_roots = {root for root in roots if self._below(root, K.REC, 0)}
        self.manager_roots = {root for root in roots if self._below(root, K.MGR, 0)}
        self.state_roots = {root for root in roots if self.has(root, K.TSTATE)}
        self.meta_roots = {root for root in roots if self.has(root, K.META)}
        # legacy: a record that is not yet a tinyckpt path, a record attribute still read, a manager
        self.legacy_units = {self._unit_find(r) for r in roots if any(
            (k == K.REC and not reason.startswith(PATH_TAG)) or (k == K.USE and self.has(r, K.REC)) or k in (K.MGR, K.META)
            for k, reason, _ in self.facts.get(r, set()))}
        self.half_units = {self._unit_find(r) for r in roots if "half" in self.kinds(r)}
        self.unit_roots: dict[str, list[str]] = {}
        for root in roots:
            self.unit_roots.setdefault(self._unit_find(root), []).append(root)
        self.blockers: dict[str, list[Blocker]] = {}
        for root in roots:
            unit = self._unit_find(root)
            for kind, reason, site in sorted(self.facts.get(root, set())):
                found = self._blocker(root, kind, reason)
                if found is not None:
                    self.blockers.setdefault(unit, []).append((found[0], found[1], site, found[2]))
        for result, site in self.state_loads:  # a trainer-state dict read elsewhere may still use a legacy key
            root = self.find(result)
            if any(k in (K.UNK, K.ESC) or (k == K.ATTR and r not in DICT_METHODS) for k, r, _ in self.facts.get(root, ())):
                self.blockers.setdefault(self._unit_find(root), []).append(
                    (block("checkpoint_manager"), STATE_ESCAPES, site, ""))
        self._outside()
        self._disk()
        for producer, receiver, site in self.receivers:
            if not self.genuine_store(receiver):
                why = sorted(r for k, r, _ in self.facts.get(self.find(receiver), ()) if k in (K.UNK, K.ESC))
                rule = "policy_store" if self.has(receiver, K.STORE) else "simple_policy_store"
                if self.has(producer, K.BLOCK) or (why and all(r == ISOLATED for r in why)):
                    site = ""  # the call's own manual reason says enough; or, run alone, nothing is known
                self.blockers.setdefault(self.unit(producer), []).append(
                    (block(rule), "a store call on a value this tool cannot prove is a store"
                     + (f" ({why[0]})" if why else "") + "; decide which checkpoint this loads", site, ""))
        self._stores()

    def _outside(self) -> None:
        """A unit that reaches a module this run does not rewrite stays legacy whole; and while such a
        module reads agent checkpoints the legacy way, nothing may start writing the tinyckpt layout."""
        if not self.frozen:
            return
        reach: dict[str, str] = {}  # unit -> its first site outside
        for unit in sorted(self.legacy_units):
            outside = sorted(s for s in self.members(unit) if self.places.get(s) in self.frozen)
            if outside:
                reach[unit] = outside[0]
                self.blockers.setdefault(unit, []).append((block("outside"), (
                    f"its {self._noun(unit)} reaches {self.places[outside[0]]}, outside the paths this run was "
                    "given"), outside[0], ""))
        frozen_pairs = sorted(s for s in self.pair_writes if self.places.get(s) in self.frozen)
        if frozen_pairs:  # the trainer outside keeps writing the legacy layout: nothing inside may expect another
            for unit in sorted({self.unit(k) for k in self.readers if k} & self.legacy_units - set(reach)):
                reach[unit] = frozen_pairs[0]
                self.blockers.setdefault(unit, []).append((block("outside"), (
                    f"it reads agent checkpoints that {self.places[frozen_pairs[0]]} writes, outside the paths this "
                    "run was given"), frozen_pairs[0], ""))
        readers = sorted(reach[u] for u in {self.unit(k) for k in self.readers if k} if u in reach
                         and self.places.get(reach[u]) in self.frozen and reach[u] not in frozen_pairs)
        if not readers:
            return
        self.outside_readers = self.places[readers[0]]
        pairs = sorted(s for s in self.pair_writes if self.places.get(s) not in self.frozen)
        if pairs:  # the trainer's save pairs stay (trainer_checkpoint): the layout stays legacy for every reader
            for unit in sorted({self.unit(k) for k in self.readers if k} & self.legacy_units - set(reach)):
                reach[unit] = pairs[0]
                self.blockers.setdefault(unit, []).append((block("outside"), (
                    f"it reads agent checkpoints the trainer's save in {self.places[pairs[0]]} writes, which stays "
                    f"legacy while {self.outside_readers}, outside the paths this run was given, reads them"),
                    pairs[0], ""))
        for key, _ in self.writers:
            unit = self.unit(key)
            if unit not in reach:
                reach[unit] = readers[0]
                self.blockers.setdefault(unit, []).append((block("outside"), (
                    f"the checkpoints it writes are read in {self.places[readers[0]]}, outside the paths this run "
                    "was given"), readers[0], ""))

    def _disk(self) -> None:
        """Checkpoints on disk tie their writers to their readers: while anything writes agent checkpoints
        the legacy way (a manager or store that stays), nothing that reads them may expect the tinyckpt
        layout (as a TrainerCheckpoint.load waits for every TrainerCheckpoint save)."""
        self.held_by_disk: dict[str, set[str]] = {}  # writer unit -> the reader units it holds back
        staying = {}
        for key, site in self.writers:
            unit = self.unit(key)
            if self.is_store(key) or (self.has(key, K.MGR) or self.has(key, K.REC)) and self.blockers.get(unit):
                staying.setdefault(unit, site)
        if not staying:
            return
        self.staying_writes = {unit: site for unit, site in staying.items() if not any(b[2] for b in self.blockers.get(unit, []))}
        places = sorted({self.places.get(site, "?") for site in staying.values()})
        reason = f"it reads agent checkpoints that code staying legacy still writes (in {', '.join(places[:3])})"
        if self.pair_writes:  # the trainer's save pairs write for those readers too: they stay with them
            self.pairs_held = (f"stays legacy: code staying legacy ({', '.join(places[:3])}) writes agent checkpoints "
                               "its readers share with this save; decide there, then run again")
        readers = {self.unit(key) for key in self.readers if key} - set(staying)
        for unit in readers:
            if unit in self.legacy_units and not self.blockers.get(unit):
                self.blockers.setdefault(unit, []).append((block("disk"), reason, "", ""))
                for writer in staying:
                    self.held_by_disk.setdefault(writer, set()).add(unit)
        # ... and those readers stay legacy: a writer that moved to the tinyckpt layout would write files they
        # cannot read (a test saving a checkpoint by hand for an evaluator that stays legacy)
        writing = f"it writes agent checkpoints that code staying legacy reads (in {', '.join(places[:3])})"
        for key, _ in self.writers:
            unit = self.unit(key)
            if unit not in staying and unit in self.legacy_units and not self.blockers.get(unit):
                self.blockers.setdefault(unit, []).append((block("disk"), writing, "", ""))
                for writer in staying:
                    self.held_by_disk.setdefault(writer, set()).add(unit)

    def _blocker(self, root: str, kind: str, reason: str) -> tuple[str, str, str] | None:
        """Why this fact keeps its unit legacy (kind, reason, family), or None."""
        if kind.startswith(K.BLOCK + ":"):
            return kind, reason, ""
        record, manager = root in self.record_roots, root in self.manager_roots
        if kind == K.SINK and (record or manager or root in self.meta_roots):
            return kind, reason, "meta" if root in self.meta_roots and not (record or manager) else \
                "record" if record else "manager"
        family = "record" if record else "manager"
        if kind in (K.UNK, K.ESC, K.RBLOCK) and (record or manager):
            return kind, reason, family
        if kind == K.ATTR:
            if record and (self.has(root, K.REC) or reason not in CONTAINER_METHODS):
                return kind, f"@attr:{reason}", "record"
            if manager and self.has(root, K.MGR) and reason not in MANAGER_ATTRS:
                return kind, f"SimpleCheckpointManager.{reason} has no tinyckpt counterpart; decide", "manager"
        if kind == K.MOCK and (record or manager):
            return kind, f"a test double ({reason}) stands in for a record", family
        return None

    def _below(self, root: str, kind: str, depth: int) -> bool:
        if self.has(root, kind):
            return True
        return depth < 4 and any(self._below(self.find(c), kind, depth + 1)
                                 for c in self.children.get(root, {}).values())

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
        return self.has(key, K.REC)

    def is_manager(self, key: str) -> bool:
        return self.has(key, K.MGR)

    def is_legacy(self, key: str) -> bool:
        """The value's unit holds legacy values (not only values that are tinyckpt paths already)."""
        return self.unit(key) in self.legacy_units

    def is_half(self, key: str) -> bool:
        """The unit's records are the half state's PolicyWrappers (for the wording of its manual sites)."""
        return self.unit(key) in self.half_units

    def migrates(self, key: str) -> bool:
        """True when the value's whole unit migrates."""
        return self.is_legacy(key) and not self.blockers.get(self.unit(key))

    def reasons(self, key: str) -> list[Blocker]:
        return self.blockers.get(self.unit(key), [])

    def members(self, unit: str) -> set[str]:
        """The sites of a unit that change when it migrates (and that a manual site of it holds back).
        Every unit's, gathered in one pass on the first call (units are settled by then: _verdicts)."""
        if self._members is None:
            kinds = {K.REC, K.MGR, K.STORE, K.SSTORE, K.USE, K.MEMBER, K.TSTATE, K.META}
            self._members = {}
            for owner, roots in self.unit_roots.items():
                self._members[owner] = {site for root in roots for kind, _, site in self.facts.get(root, ())
                                        if site and (kind in kinds or kind.startswith(K.BLOCK))}
            for site, receiver in self.manager_calls.items():
                self._members.setdefault(self.unit(receiver), set()).add(site)
            for producer, _, site in self.receivers:
                self._members.setdefault(self.unit(producer), set()).add(site)
        return self._members.get(unit, set())

    def holding_back(self, unit: str, site: str, limit: int = 12) -> str:
        """`; it holds back N other sites of the same <value> ... (in <where they are>)` for a manual site of a
        unit (nothing when it holds back nothing). Places, not lines: the text stays the same on a second
        run, whatever else moved in those files."""
        own = self.members(unit) - {site}
        readers = set().union(*(self.members(r) for r in getattr(self, "held_by_disk", {}).get(unit, ()))) - own - {site}
        if not own and not readers:
            return ""
        noun = self._noun(unit)
        parts = [f"{len(own)} other site{'s' if len(own) != 1 else ''} of the same {noun}"] if own else []
        if readers:
            parts.append(f"{len(readers)} site{'s' if len(readers) != 1 else ''} that read the checkpoints it writes")
        places = sorted({self.places.get(s, "?") for s in own | readers})
        shown = ", ".join(places[:limit]) + (f", +{len(places) - limit} more" if len(places) > limit else "")
        return f"; it holds back {' and '.join(parts)} (in {shown})"

    def _disk_role(self, unit: str, where: str) -> str:
        """How a unit held back by the checkpoints on disk touches them (for its marker)."""
        if any(r.startswith("it writes agent checkpoints") for _, r, _, _ in self.blockers.get(unit, [])):
            return f"it writes checkpoints that code staying legacy with {where} reads"
        return f"it reads checkpoints that legacy code in {where} writes"

    def _noun(self, unit: str) -> str:
        roots = self.unit_roots.get(unit, ())
        return "SimpleCheckpointManager" if any(r in self.manager_roots for r in roots) else \
            "record" if any(r in self.record_roots for r in roots) else \
            "PolicyMetadata" if any(r in self.meta_roots for r in roots) else "value"

    def held_elsewhere(self, module: str) -> list[tuple[list[str], str]]:
        """(sites, reason) for each legacy unit held back by manual sites in OTHER modules only: its sites
        in `module`, and why it stays legacy (the manual site that decides it, by place, not line)."""
        writers: dict[str, list[str]] = {}
        for writer, readers in self.held_by_disk.items():
            for reader in readers:
                writers.setdefault(reader, []).append(writer)
        out = []
        for unit in sorted(self.legacy_units):
            own = [b for b in self.blockers.get(unit, []) if b[2]]
            found = own or [b for w in sorted(writers.get(unit, ())) for b in self.blockers.get(w, []) if b[2]] or [
                (block("policy_store"), STORE_SAVE_STAYS, self.staying_writes[w], "")  # a store's manual save
                for w in sorted(writers.get(unit, ())) if w in self.staying_writes]
            if not found or module in {self.places.get(b[2]) for b in found}:
                continue
            mine = [s for s in self.members(unit) if self.places.get(s) == module]
            if not mine:
                continue
            where = ", ".join(sorted({self.places.get(b[2], "?") for b in found})[:3])
            if found[0][0] == block("outside"):
                out.append((sorted(mine), f"stays legacy: {found[0][1]}; run on the whole project to migrate it"))
                continue
            head = render(found[0][1], unit in self.half_units).split(";")[0]
            out.append((sorted(mine), f"stays legacy with its {self._noun(unit)} in {where}: {head}; decide there, then run "
                              "again" if own else f"stays legacy: {self._disk_role(unit, where)}, where {head}; decide "
                                                  "there, then run again"))
        return out

    # stores ---------------------------------------------------------------------------------------------------
    def is_store(self, key: str) -> bool:
        return any(self.has(key, k) for k in STORES)

    def genuine_store(self, key: str) -> bool:
        """Only store constructions, annotations and untouched test doubles flow here."""
        facts = self.facts.get(self.find(key), set())
        kinds = {k for k, _, _ in facts}
        if not kinds & set(STORES) or K.UNK in kinds or K.ESC in kinds:
            return False
        methods = STORE_PRODUCERS[K.STORE] | STORE_OTHER_METHODS
        return not any(k == K.ATTR and r not in methods for k, r, _ in facts)

    def _stores(self) -> None:
        """needed: store keys something legacy still uses (directional: a use needs its sources)."""
        by_key: dict[str, list[tuple[str, str]]] = {}
        for key, how, detail in self.flows:
            by_key.setdefault(key, []).append((how, detail))
        self.needed: set[str] = set()
        self._fixture_qualnames = {q for names in self.fixtures.values() for q in names.values()}
        for receiver, _, _ in self.manual_calls:
            self.needed.add(receiver)
        for producer, receiver, _ in self.receivers:
            if not self.migrates(producer):
                self.needed.add(receiver)
        changed = True
        while changed:
            changed = False
            for key, occurrences in by_key.items():
                if key in self.needed:
                    continue
                if any(self._occurrence_needs(how, detail) for how, detail in occurrences):
                    self.needed.add(key)
                    changed = True

    def _occurrence_needs(self, how: str, detail: str) -> bool:
        if how == "recv":
            return False  # judged above from the producer
        if how == "upload":
            return detail not in self.uploads  # a decided upload on a store goes with its statement
        if how == "pair":  # the trainer's save pair uses the store while it stays legacy
            return bool(self.pairs_held or self.outside_readers or self.frozen)
        if how == "arg":
            param = self.arg_param.get(detail)
            return param is None or param in self.needed or not self.param_removable(param)
        if how in ("assign", "fixture"):
            if detail.startswith("r:") and detail[2:] not in self._fixture_qualnames:
                return True  # a store returned from an ordinary function: its callers keep it
            return detail in self.needed or not detail
        return True

    def param_removable(self, param: str) -> bool:
        """Every call of the parameter's function is known (no reference, no untyped method call), and
        neither the function nor a caller is in a module this run does not rewrite."""
        fn = param[2:].rpartition(":")[0]
        cls, _, name = fn.rpartition(".")
        if self.frozen and (self._module_of(fn) in self.frozen or self.callers.get(fn, set()) & self.frozen):
            return False
        if fn in self.fnrefs or (name == "__init__" and cls in self.fnrefs):
            return False
        is_method = self.sigs.get(fn, ((), False))[1]
        if is_method and name != "__init__" and (len(self.overrides(fn)) > 1 or any(
                f"{base}.{name}" in self.sigs for base in self.ancestors(cls))):
            return False  # an override (or the method it overrides) must keep the same parameters
        return not (is_method and name != "__init__" and name in self.unresolved)

    def _module_of(self, function: str) -> str:
        """The module that defines a function (its longest prefix that is a module of the tree)."""
        parts = function.split(".")
        return next((m for m in (".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)) if m in self.modules), "")

    def store_removable(self, key: str) -> bool:
        """A store key nothing legacy needs any more (its bindings can go)."""
        return self.is_store(key) and key not in self.needed


def solve(own: Graph, graphs: Iterable[Graph], frozen: Iterable[str] = ()) -> Solution:
    """The whole tree: every other module's graph, and this module's `own`."""
    return Solution([*(g for g in graphs if g.module != own.module), own], frozen=frozen)


def solve_index(index: Mapping[str, Any]) -> Solution:
    """The whole tree's graphs of an index, solved (`frozen`: the modules the run reads but does not rewrite)."""
    return Solution(merged(index), frozen=index.get("frozen", ()))


def isolated(graph: Graph) -> Graph:
    """Without the other files: every parameter and return may meet values this file cannot see."""
    from codemods.analysis.graph import Fact

    facts = list(graph.facts)
    for q, (names, _) in graph.sigs.items():
        for name in names:
            facts.append(Fact(f"p:{q}:{name.lstrip('*')}", K.UNK, ISOLATED))
        facts.append(Fact(f"r:{q}", K.UNK, ISOLATED))
    return dataclasses.replace(graph, facts=facts, fnrefs=graph.fnrefs | set(graph.sigs))


def merged(index: Mapping[str, Any]) -> list[Graph]:
    return [g for g in index.get("graphs", []) if isinstance(g, Graph)]


def legacy_touching(graph: Graph) -> bool:
    """Records, stores or managers live in this module: its functions may pass or receive them."""
    kinds = {K.REC, K.STORE, K.SSTORE, K.MGR}
    return any(f.kind in kinds and not f.reason.startswith(PATH_TAG) for f in graph.facts) or \
        any(isinstance(op, ProducerOp) for op in graph.ops)
