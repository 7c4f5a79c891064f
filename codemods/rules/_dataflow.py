"""Where legacy records and stores flow: a whole-tree, flow-insensitive value graph.

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

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

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
from codemods.rules._base import resolve_relative

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


class Builder(cst.CSTVisitor):
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
        for q in sorted(self._qualified(node)):
            found = self.config.legacy_class(q)
            if found:
                return found
        return None

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
            for a in scope[name.value] if name.value in scope else ():
                node = getattr(a, "node", None)
                if node is None or isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Import, cst.ImportFrom)):
                    return None
                owners.add(self.scope_name(a.scope))
            return f"v:{sorted(owners)[0]}:{name.value}" if owners else None
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


class _SigCollector(cst.CSTVisitor):
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


# -- solving ------------------------------------------------------------------------------------------

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
