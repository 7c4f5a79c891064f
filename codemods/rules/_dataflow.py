"""Where legacy records and stores flow: a whole-tree, flow-insensitive value graph (built here, solved in _solution).

Every value a rule might rewrite gets a key: a variable (`v:<scope>:<name>`), a parameter or return
of an in-tree function (`p:<qualname>:<param>`, `r:<qualname>`), an instance attribute
(`a:<class>:<attr>`), or one expression (`s:<module>:<line>:<col>:<tag>`). Assignments, calls,
returns, loops, containers and pytest fixtures unify keys (children: `[]` element or dict key,
`{v}` dict value, `(i)` tuple item, `.result` of a future). Facts attach to keys: where a record or
store comes from, and every way it is used. A *unit* (a value with its containers and elements)
becomes paths only when every source is a record we can rewrite and every use is one we
understand; otherwise it stays a record, whole. Stores are judged per key and direction: a store
parameter goes when nothing downstream of it still needs the store.

Each file contributes its `Graph` to the cross-file index (`collect`); `solve` merges them, so a
parameter gets what every caller passes and an argument goes when its parameter goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst._metadata_dependent import LazyValue
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
    ScopeProvider,
)
from libcst.metadata.scope_provider import ClassScope, FunctionScope, GlobalScope

from codemods.config import Config
from codemods.rules._base import NoFieldVisits, resolve_relative

RECORD_CLASSES = frozenset({"PolicyRecord", "PolicyWrapper", "MockPolicyRecord"})
STORE_CLASS = "PolicyStore"
RECORD_ATTRS = frozenset({"policy", "uri", "file_path", "run_name"})
PRODUCER_METHODS = frozenset({"policy_record", "load_from_uri", "policy_records"})
# store methods with no tinyckpt counterpart -> what a person must decide
STORE_MANUAL = {
    "policy_record_or_mock": "policy_record_or_mock has no tinyckpt counterpart; decide what stands in when no "
                             "policy URI is given",
    "save": "PolicyStore.save has no tinyckpt counterpart; decide where this checkpoint is written (save_checkpoint)",
    "add_to_wandb_run": "wandb uploads have no tinyckpt counterpart; decide how checkpoints are published",
    "add_to_wandb_sweep": "wandb uploads have no tinyckpt counterpart; decide how checkpoints are published",
    "add_to_wandb_artifact": "wandb uploads have no tinyckpt counterpart; decide how checkpoints are published",
}
# Calls that only look at a value (its text, truth or identity): a record-turned-path does there too.
HARMLESS = frozenset({"builtins.print", "builtins.str", "builtins.repr", "builtins.len", "builtins.bool",
                      "builtins.id", "builtins.hash", "builtins.format", "builtins.isinstance", "pytest.approx"})
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})
# New-world calls that take a checkpoint path (what migrated uses become).
PATH_CONSUMERS = frozenset({"torch.load", "tinyckpt.parse_checkpoint_path", "tinyckpt.latest_checkpoint",
                            "tinyckpt.list_checkpoints"})
PATH_PRODUCERS = {"tinyckpt.latest_checkpoint": "rec", "tinyckpt.checkpoint_path": "rec",
                  "tinyckpt.list_checkpoints": "list"}
CONTAINER_METHODS = frozenset({"items", "keys", "values", "get", "append", "extend", "sort", "copy", "count",
                               "index", "clear", "__getitem__", "__contains__"})
MOCKS = frozenset({"unittest.mock.MagicMock", "unittest.mock.Mock", "unittest.mock.create_autospec"})
SEQUENCE_COPIES = frozenset({"builtins.sorted", "builtins.list", "builtins.reversed", "builtins.tuple",
                             "builtins.set"})
PATH_TAG = "path:"  # reason prefix of a record fact that is already a tinyckpt path (not legacy)


@dataclass
class Graph:
    """One module's contribution (picklable): unions, facts, deferred operations, signatures."""

    module: str
    unions: list[tuple[str, str]] = field(default_factory=list)
    facts: list[tuple[str, str, str, str]] = field(default_factory=list)  # key, kind, reason, site
    ops: list[tuple[Any, ...]] = field(default_factory=list)
    sigs: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)  # qualname -> params, bound
    fixtures: dict[str, str] = field(default_factory=dict)  # pytest fixture name -> qualname
    occurrences: list[tuple[str, str, str]] = field(default_factory=list)  # key, how, detail (stores)
    fnrefs: set[str] = field(default_factory=set)  # functions used other than by a direct call
    unresolved: set[str] = field(default_factory=set)  # method names called on values we cannot type
    bases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # class qualname -> base qualnames


def code(node: cst.CSTNode, limit: int = 60) -> str:
    text = " ".join(cst.Module([]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def literal_str(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_test_module(module: str) -> bool:
    last = module.rpartition(".")[2]
    return module.split(".")[0] in ("tests", "test") or last.startswith("test_") or last == "conftest"


class Builder(NoFieldVisits, cst.CSTVisitor):
    """Builds one module's Graph and remembers, for the rules, which node is which value."""

    def __init__(self, wrapper: MetadataWrapper, module: str, package: str | None, config: Config,
                 skip_fns: Iterable[Any] = ()) -> None:
        self.scopes = wrapper.resolve(ScopeProvider)
        self.qnames = wrapper.resolve(QualifiedNameProvider)
        self.parents = wrapper.resolve(ParentNodeProvider)
        self.positions = wrapper.resolve(PositionProvider)
        self.contexts = wrapper.resolve(ExpressionContextProvider)
        self.module, self.package, self.config = module or "__main__", package, config
        self.graph = Graph(self.module)
        self.tree = wrapper.module
        self.memo: dict[int, str | None] = {}
        self.handled_calls: set[int] = set()
        self.skip: set[int] = set()
        self.nodes: dict[str, cst.CSTNode] = {}  # site -> node of this file
        self.uses: list[tuple[str, cst.CSTNode, str, cst.BaseExpression]] = []  # key, node, kind, base
        self.producers: list[tuple[str, cst.Call, str, str]] = []  # key, call, method, receiver key
        self.params: list[tuple[str, cst.Param, cst.FunctionDef]] = []
        self.assigns: list[tuple[str, cst.CSTNode, cst.BaseExpression]] = []  # target key, statement, value
        self.fixture_defs: dict[str, cst.FunctionDef] = {}  # qualname -> def
        self.funcs: list[tuple[str | None, str | None, str | None]] = []  # qualname, class, self name
        wrapper.module.visit(_SigCollector(self))
        for skip_fn in skip_fns:  # statements another rule rewrites wholesale
            self.skip |= {id(n) for n in skip_fn(self)}
        wrapper.module.visit(self)

    # -- keys and facts ---------------------------------------------------------------------------
    def site(self, node: cst.CSTNode, tag: str = "") -> str:
        pos = self.positions[node].start
        name = f"s:{self.module}:{pos.line}:{pos.column}:{tag or type(node).__name__}"
        self.nodes[name] = node
        return name

    def union(self, a: str | None, b: str | None) -> None:
        if a and b and a != "NONE" and b != "NONE":
            self.graph.unions.append((a, b))

    def fact(self, key: str | None, kind: str, reason: str = "", node: cst.CSTNode | None = None) -> None:
        if key and key != "NONE":
            self.graph.facts.append((key, kind, reason, self.site(node, "at") if node is not None else ""))

    def child(self, key: str, label: str) -> str:
        child = f"{key}{label}"
        self.graph.ops.append(("child", key, label, child))
        return child

    def legacy(self, node: cst.CSTNode) -> str | None:
        """The legacy class `node` names; None when it may also be a local definition (a rebound import)."""
        found = self.qnames.get(node, set())
        if any(q.source is QualifiedNameSource.LOCAL for q in (found() if isinstance(found, LazyValue) else found)):
            return None
        classes = [self.config.legacy_class(q) for q in sorted(self._qualified(node))]
        return None if not classes or None in classes else classes[0]  # (None too when also bound elsewhere)

    def _qualified(self, node: cst.CSTNode) -> set[str]:
        out = set()
        found = self.qnames.get(node, set())
        for q in found() if isinstance(found, LazyValue) else found:
            if q.source is QualifiedNameSource.IMPORT:
                out.add(resolve_relative(q.name, self.package))
            elif q.source is QualifiedNameSource.LOCAL and "<locals>" not in q.name:
                out.add(f"{self.module}.{q.name}")
            elif q.source is QualifiedNameSource.BUILTIN:
                out.add(q.name if q.name.startswith("builtins.") else f"builtins.{q.name}")
        return out

    def qualified(self, node: cst.CSTNode) -> str | None:
        names = sorted(self._qualified(node))
        return names[0] if names else None

    # -- scopes -----------------------------------------------------------------------------------
    def scope_name(self, scope: Any) -> str:
        if isinstance(scope, GlobalScope):
            return self.module
        node = getattr(scope, "node", None)
        if isinstance(scope, FunctionScope) and isinstance(node, cst.FunctionDef):
            q = self.func_qualname(node)
            if q:
                return q
        if isinstance(scope, ClassScope) and isinstance(node, cst.ClassDef):
            return f"{self.module}.{node.name.value}"
        if node is None:
            return f"{self.module}@?"
        pos = self.positions[node].start
        return f"{self.module}@{pos.line}:{pos.column}"

    def func_qualname(self, node: cst.FunctionDef) -> str | None:
        parent = self.parents.get(node)
        if isinstance(parent, cst.Module):
            return f"{self.module}.{node.name.value}"
        cls = self.parents.get(parent) if isinstance(parent, cst.IndentedBlock) else None
        if isinstance(cls, cst.ClassDef) and isinstance(self.parents.get(cls), cst.Module):
            return f"{self.module}.{cls.name.value}.{node.name.value}"
        return None

    def var_key(self, name: cst.Name) -> str | None:
        scope = self.scopes.get(name)
        if scope is None:
            return None
        if self.contexts.get(name) is ExpressionContext.LOAD:
            owners = set()
            for a in scope[name.value] if name.value in scope else ():  # noqa: SIM401 (a Scope has no .get)
                node = getattr(a, "node", None)
                if node is None or isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Import, cst.ImportFrom)):
                    return None
                owners.add(self.scope_name(a.scope))
            return f"v:{min(owners)}:{name.value}" if owners else None
        return f"v:{self.scope_name(scope)}:{name.value}"

    def self_attr(self, node: cst.BaseExpression) -> str | None:
        if not isinstance(node, cst.Attribute) or not self.funcs or not isinstance(node.value, cst.Name):
            return None
        _, cls, self_name = self.funcs[-1]
        if cls and self_name and node.value.value == self_name:
            return f"a:{cls}:{node.attr.value}"
        return None

    # -- annotations ------------------------------------------------------------------------------
    def annotate(self, key: str, ann: cst.BaseExpression, depth: int = 0) -> None:
        if depth > 3:
            return
        if isinstance(ann, cst.SimpleString):
            return  # string annotations: the annotations rule rewrites them; no flow is derived from them
        legacy = self.legacy(ann)
        if legacy in RECORD_CLASSES:
            self.fact(key, "rec", f"annotated {legacy}")
        elif legacy == STORE_CLASS:
            self.fact(key, "store", "annotated PolicyStore")
        elif isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
            self.annotate(key, ann.left, depth + 1)
            self.annotate(key, ann.right, depth + 1)
        elif isinstance(ann, cst.Subscript):
            tail = (self.qualified(ann.value) or "").rpartition(".")[2]
            items = [e.slice.value for e in ann.slice if isinstance(e.slice, cst.Index)]
            if tail in ("Optional", "Union"):
                for item in items:
                    self.annotate(key, item, depth + 1)
            elif tail in ("list", "List", "Sequence", "Iterable", "set", "Set", "frozenset", "Iterator"):
                self.fact(key, "list", "annotated")
                if items:
                    self.annotate(self.child(key, "[]"), items[0], depth + 1)
            elif tail in ("dict", "Dict", "Mapping", "MutableMapping", "OrderedDict"):
                self.fact(key, "dict", "annotated")
                if len(items) == 2:
                    self.annotate(self.child(key, "[]"), items[0], depth + 1)
                    self.annotate(self.child(key, "{v}"), items[1], depth + 1)
            elif tail in ("tuple", "Tuple"):
                for i, item in enumerate(items):
                    self.annotate(self.child(key, f"({i})"), item, depth + 1)
        else:
            q = self.qualified(ann)
            if q and not q.startswith(("builtins.", "typing.")):
                self.fact(key, f"type:{q}", "annotated")

    # -- binding ----------------------------------------------------------------------------------
    def bind(self, target: cst.BaseExpression, key: str | None, value: cst.CSTNode | None) -> None:
        reason = f"assigned from {code(value)}" if value is not None else "assigned"
        if isinstance(target, cst.Name):
            self._bind_key(self.var_key(target), key, value, reason)
        elif isinstance(target, cst.Attribute):
            tk = self.self_attr(target)
            if tk:
                self._bind_key(tk, key, value, reason)
            elif key:
                self.fact(key, "esc", f"stored on {code(target)}", value)
        elif isinstance(target, cst.Subscript):
            container = self.classify(target.value)
            element = target.slice[0].slice if len(target.slice) == 1 else None
            index = element.value if isinstance(element, cst.Index) else None
            if container:
                self.graph.ops.append(("setsub", container, self.classify(index) or "", key or "",
                                       self.site(target, "setsub")))
                if not key and value is not None and not (isinstance(value, cst.Name) and value.value == "None"):
                    self.graph.ops.append(("setsub_unk", container, reason, self.site(target, "setsub")))
            elif key:
                self.fact(key, "esc", f"stored in {code(target)}", value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, element in enumerate(target.elements):
                inner = None
                if key and not isinstance(element, cst.StarredElement):
                    inner = self.site(element, f"unpack{i}")  # a tuple's item i, or a list's element
                    self.graph.ops.append(("unpack", key, i, inner))
                self.bind(element.value, inner, value)

    def _bind_key(self, tk: str | None, key: str | None, value: cst.CSTNode | None, reason: str) -> None:
        if not tk or key == "NONE":
            return
        if key:
            self.union(tk, key)
        else:
            self.fact(tk, "unk", reason, value)

    def value_into(self, key: str, value: cst.BaseExpression) -> None:
        vk = self.classify(value)
        if vk == "NONE":
            return
        if vk:
            self.union(key, vk)
        else:
            self.fact(key, "unk", f"from {code(value)}", value)

    # -- classifying expressions ------------------------------------------------------------------
    def classify(self, node: cst.CSTNode | None) -> str | None:
        if node is None:
            return None
        if id(node) not in self.memo:
            self.memo[id(node)] = None
            self.memo[id(node)] = self._classify(node)
        return self.memo[id(node)]

    def _classify(self, node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.Name):
            return "NONE" if node.value == "None" else self.var_key(node)
        if isinstance(node, cst.Attribute):
            return self.self_attr(node)
        if isinstance(node, cst.Call):
            return _classify_call(self, node)
        if isinstance(node, cst.Subscript):
            container = self.classify(node.value)
            if not container:
                return None
            s = self.site(node, "sub")
            element = node.slice[0].slice if len(node.slice) == 1 else None
            if isinstance(element, cst.Slice):
                self.union(s, container)
                return s
            index = element.value if isinstance(element, cst.Index) else None
            is_int = isinstance(index, cst.Integer) or (
                isinstance(index, cst.UnaryOperation) and isinstance(index.expression, cst.Integer))
            self.graph.ops.append(("sub", s, container, is_int, s))
            return s
        if isinstance(node, (cst.List, cst.Set, cst.Tuple)):
            s = self.site(node, "display")
            if not isinstance(node, cst.Tuple):
                self.fact(s, "list")
            for i, element in enumerate(node.elements):
                label = f"({i})" if isinstance(node, cst.Tuple) else "[]"
                if isinstance(element, cst.StarredElement):
                    inner = self.classify(element.value)
                    if inner and label == "[]":
                        self.union(self.child(s, "[]"), self.child(inner, "[]"))
                    else:
                        self.fact(self.child(s, label), "unk", f"*{code(element.value)}", element)
                else:
                    self.value_into(self.child(s, label), element.value)
            return s
        if isinstance(node, cst.Dict):
            s = self.site(node, "dict")
            self.fact(s, "dict")
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    self.value_into(self.child(s, "[]"), element.key)
                    self.value_into(self.child(s, "{v}"), element.value)
                else:
                    self.fact(self.child(s, "{v}"), "unk", "** in a dict display", element)
            return s
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            s = self.site(node, "comp")
            self.fact(s, "list")
            self.value_into(self.child(s, "[]"), node.elt)
            return s
        if isinstance(node, cst.DictComp):
            s = self.site(node, "dcomp")
            self.fact(s, "dict")
            self.value_into(self.child(s, "[]"), node.key)
            self.value_into(self.child(s, "{v}"), node.value)
            return s
        if isinstance(node, (cst.IfExp, cst.BooleanOperation)):
            s = self.site(node, "either")
            for part in (node.body, node.orelse) if isinstance(node, cst.IfExp) else (node.left, node.right):
                self.value_into(s, part)
            return s
        if isinstance(node, cst.NamedExpr):
            key = self.classify(node.value)
            self.bind(node.target, key, node.value)
            return key
        return None

    def args(self, args: Iterable[cst.Arg]) -> list[tuple[str, str, str]]:
        """(keyword, '' positional, '*' starred; value key or ''; site of the Arg) per argument."""
        out = []
        for arg in args:
            kw = arg.keyword.value if arg.keyword else ("*" if arg.star else "")
            out.append((kw, self.classify(arg.value) or "", self.site(arg, "arg")))
        return out

    # -- visiting ---------------------------------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        if id(node) in self.skip:
            return False
        return super().on_visit(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        q = self.func_qualname(node)
        cls = q.rpartition(".")[0] if q and q.count(".") > self.module.count(".") + 1 else None
        static = any(m.matches(d.decorator, m.Name("staticmethod")) for d in node.decorators)
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        self_name = params[0].name.value if cls and params and not static else None
        self.funcs.append((q, cls, self_name))
        is_fixture = q is not None and q in self.graph.fixtures.values()
        for i, param in enumerate(params):
            if self_name and i == 0:
                continue
            local = self.var_key(param.name)
            if not q:
                self.fact(local, "unk", "parameter of a nested function", param)
                continue
            pk = f"p:{q}:{param.name.value}"
            self.union(pk, local)
            self.graph.occurrences.append((pk, "assign", local or ""))
            if param.annotation is not None:
                self.annotate(pk, param.annotation.annotation)
            if param.default is not None:
                self.value_into(pk, param.default)
            self.params.append((pk, param, node))
            if _is_test_module(self.module) and not cls and (is_fixture or node.name.value.startswith("test")):
                self.graph.ops.append(("fixture", pk, param.name.value, self.module))
        if node.returns is not None and q:
            self.annotate(f"r:{q}", node.returns.annotation)
        if is_fixture and q:
            self.fixture_defs[q] = node

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.funcs.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, cst.Arg) and parent.keyword and parent.keyword.value == "key":
            return  # bound to the elements by the sorted()/max()/min() call
        for param in node.params.params:
            self.fact(self.var_key(param.name), "unk", "lambda parameter", param)

    def visit_Assign(self, node: cst.Assign) -> None:
        key = self.classify(node.value)
        for target in node.targets:
            self.bind(target.target, key, node.value)
        if len(node.targets) == 1:
            tk = self.target_key(node.targets[0].target)
            if tk:
                self.assigns.append((tk, self.parents[node], node.value))

    def target_key(self, target: cst.BaseExpression) -> str | None:
        if isinstance(target, cst.Name):
            return self.var_key(target)
        return self.self_attr(target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        tk = self.target_key(node.target)
        if tk:
            self.annotate(tk, node.annotation.annotation)
        if node.value is not None:
            self.bind(node.target, self.classify(node.value), node.value)
            if tk:
                self.assigns.append((tk, self.parents[node], node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        key, tk = self.classify(node.value), self.target_key(node.target)
        self._bind_key(tk, key, node.value, f"augmented with {code(node.value)}")

    def visit_For(self, node: cst.For) -> None:
        inner = self.classify(node.iter)
        self.bind(node.target, self.child(inner, "[]") if inner else None, node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        inner = self.classify(node.iter)
        self.bind(node.target, self.child(inner, "[]") if inner else None, node.iter)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self.bind(node.asname.name, self.classify(node.item), node.item)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is None or not self.funcs:
            return
        q = self.funcs[-1][0]
        if q:
            self.value_into(f"r:{q}", node.value)
        else:
            self.fact(self.classify(node.value), "esc", "returned from a nested function", node)

    def visit_Name(self, node: cst.Name) -> None:
        if self.contexts.get(node) is ExpressionContext.LOAD:
            self._examine(node)
            q = self.qualified(node)
            if q and not q.startswith("builtins."):
                parent = self.parents.get(node)
                if not (isinstance(parent, cst.Call) and parent.func is node) and not _is_submit_target(self, node):
                    self.graph.fnrefs.add(q)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self.contexts.get(node) is not ExpressionContext.STORE:
            self._examine(node)

    def visit_Call(self, node: cst.Call) -> None:
        self._examine(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.contexts.get(node) is not ExpressionContext.STORE:
            self._examine(node)

    def _examine(self, node: cst.BaseExpression) -> None:
        key = self.classify(node)
        if not key or key == "NONE":
            return
        from codemods.rules._uses import judge

        verdict = judge(self, node, key)
        if verdict is not None:
            kind, reason = verdict
            self.fact(key, kind, reason, node)


def _is_submit_target(b: Builder, node: cst.Name) -> bool:
    arg = b.parents.get(node)
    call = b.parents.get(arg) if isinstance(arg, cst.Arg) else None
    return isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
        call.func.attr.value == "submit" and bool(call.args) and call.args[0] is arg


class _SigCollector(NoFieldVisits, cst.CSTVisitor):
    """Signatures (parameter names; whether the first is bound), classes' bases and pytest fixtures."""

    def __init__(self, builder: Builder) -> None:
        self.b = builder

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if isinstance(self.b.parents.get(node), cst.Module):
            bases = tuple(q for q in (self.b.qualified(a.value) for a in node.bases if not a.keyword) if q)
            self.b.graph.bases[f"{self.b.module}.{node.name.value}"] = bases

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        q = self.b.func_qualname(node)
        if not q:
            return
        names = tuple(p.name.value for p in [*node.params.posonly_params, *node.params.params])
        kwonly = tuple("*" + p.name.value for p in node.params.kwonly_params)
        static = any(m.matches(d.decorator, m.Name("staticmethod")) for d in node.decorators)
        is_method = q.count(".") > self.b.module.count(".") + 1
        self.b.graph.sigs[q] = (names + kwonly, is_method and not static)
        for d in node.decorators:
            target = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            if self.b.qualified(target) == "pytest.fixture" and not is_method:
                self.b.graph.fixtures[node.name.value] = q


def _classify_call(b: Builder, call: cst.Call) -> str | None:
    from codemods.rules._calls import classify_call

    return classify_call(b, call)
