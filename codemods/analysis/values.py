"""The one walk over a module: its value graph (`Graph`, see graph.py), and the nodes the rules plan on.

The walk is flow-insensitive and follows values through assignments, calls (in-tree functions and
methods of first-party classes, across files), returns, loops, containers, `self` attributes, futures
and pytest fixtures. What each expression's parent does with a followed value is judged here (`_judge`):
understood, a record attribute with a counterpart (`use`), or a reason the value's unit stays legacy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import libcst as cst
from libcst.metadata import ExpressionContext
from libcst.metadata.scope_provider import ClassScope, FunctionScope, GlobalScope

from codemods.analysis.graph import (
    PATH_TAG,
    SUPER,
    ArgSpec,
    CallOp,
    ChildOp,
    Fact,
    FixtureOp,
    Graph,
    K,
    MethodCallOp,
    Occurrence,
    ProducerOp,
    SetItemOp,
    SetItemUnknownOp,
    StoreCallOp,
    SubscriptOp,
    UnpackOp,
    block,
)
from codemods.analysis.shapes import (
    HALF_RECORD_CALLS,
    assigned_in,
    calls_code,
    code,
    dotted,
    half_record_problem,
    in_try,
    literal_str,
    manager_construction,
    match_hand_save,
    match_save_pair,
    or_mock_decided,
    producer_problem,
    read_names,
    remote_decided,
    remote_uri,
)
from codemods.decisions import chosen
from codemods.legacy import STORE_UPLOADS, TRAINER_CHECKPOINT_DROPPED, is_test_module

if TYPE_CHECKING:
    from codemods.analysis import Analysis

RECORD_CLASSES = frozenset({"PolicyRecord", "PolicyWrapper", "MockPolicyRecord"})
HALF_CLASSES = frozenset({"PolicyWrapper"})
RECORD_ATTRS = frozenset({"policy", "uri", "file_path", "run_name"})
FULL_PRODUCERS = frozenset({"policy_record", "load_from_uri", "policy_records"})
PRODUCER_METHODS = FULL_PRODUCERS | HALF_RECORD_CALLS
# PolicyStore methods with no tinyckpt counterpart -> what a person must decide
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
MOCKS = frozenset({"unittest.mock.MagicMock", "unittest.mock.Mock", "unittest.mock.create_autospec"})
SEQUENCE_COPIES = frozenset({"builtins.sorted", "builtins.list", "builtins.reversed", "builtins.tuple",
                             "builtins.set"})
_CONTAINER_CALLS = ("items", "keys", "values", "get", "copy", "append", "extend")
WATCHED = frozenset({"builtins.isinstance", "typing.cast", "typing_extensions.cast"})  # calls the rules look at
ISINSTANCE_REASON = "records are checkpoint path strings now; decide what this {cls} type check becomes"
# SimpleCheckpointManager methods and what they become
MANAGER_RENAMED = {"load_agent": "load_latest_agent"}
MANAGER_UNCHANGED = frozenset({"run_name", "checkpoint_dir", "load_trainer_state"})
MANAGER_NEW_API = frozenset({"base_dir", "exists", "list_epochs", "load_latest_agent", "save_checkpoint"})
BEST = ("find_best_checkpoint", "find_checkpoints_by_score")  # TCK-M108 best-checkpoint
MANAGER_NO_COUNTERPART = {
    "find_best_checkpoint": "find_best_checkpoint has no tinyckpt counterpart (no score metadata); "
                            "decide how to pick the best checkpoint",
    "find_checkpoints_by_score": "find_checkpoints_by_score has no tinyckpt counterpart (no score metadata); "
                                 "decide how to select checkpoints",
    "list_all_checkpoints": "list_all_checkpoints has no tinyckpt counterpart (no metadata sidecars); "
                            "use list_epochs() or list_checkpoints()",
    "cleanup_old_checkpoints": "cleanup_old_checkpoints has no tinyckpt counterpart; decide which checkpoint files to delete",
    "save_trainer_state": "save_trainer_state without the save_agent of the same epoch just before it; "
                          "tinyckpt saves the trainer state with the agent (save_checkpoint)",
}
WRAPPER_BUILT = ("PolicyWrapper(...) built by hand; records are checkpoint paths now: pass a path "
                 "(checkpoint_path(run, epoch))")
_UNDERSTOOD = (cst.Element, cst.DictElement, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp,
               cst.BooleanOperation, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Return, cst.For, cst.CompFor,
               cst.WithItem, cst.NamedExpr, cst.Expr, cst.Comparison, cst.ComparisonTarget, cst.UnaryOperation,
               cst.If, cst.While, cst.Assert, cst.FormattedStringExpression, cst.Index, cst.Del, cst.Lambda,
               cst.IfExp, cst.Subscript)
_STATEMENT = (cst.SimpleStatementLine, cst.BaseCompoundStatement)


AS_COMPLETED = frozenset({"concurrent.futures.as_completed", "concurrent.futures._base.as_completed"})
_LAYOUT = frozenset({cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.Newline, cst.TrailingWhitespace,
                     cst.EmptyLine, cst.Comment, cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.LeftParen,
                     cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace,
                     cst.RightCurlyBrace, cst.AssignEqual, cst.ImportStar,
                     cst.Asynchronous})
_ATOMS = (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)
_CONTAINERS = frozenset({cst.List, cst.Tuple, cst.Set, cst.Dict})


def _literal(node: cst.CSTNode, depth: int) -> bool:
    """A constant: a number, a plain string, True/False/None, or (up to `depth` levels) a list, tuple,
    set or dict of constants. Checked without recursion past `depth`, so nesting costs no more than the walk."""
    if isinstance(node, _ATOMS):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.expression, (cst.Integer, cst.Float, cst.Imaginary))
    if isinstance(node, cst.ConcatenatedString):
        return isinstance(node.left, cst.SimpleString) and _literal(node.right, 0)
    if depth <= 0 or type(node) not in _CONTAINERS:
        return False
    if isinstance(node, cst.Dict):
        return all(isinstance(e, cst.DictElement) and _literal(e.key, depth - 1) and _literal(e.value, depth - 1)
                   for e in node.elements)
    return all(isinstance(e, cst.Element) and _literal(e.value, depth - 1) for e in node.elements)  # type: ignore[attr-defined]


class Builder(cst.CSTVisitor):
    """Walks a module once: parents, statements, the value graph, and node lists for the rules."""

    def __init__(self, analysis: Analysis) -> None:
        super().__init__()
        a = self.a = analysis
        self.scopes = a.scopes
        self.contexts = a.contexts
        self.module, self.package = a.module or "__main__", a.package
        self.graph = Graph(self.module)
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.type_checks: dict[int, str] = {}  # id(isinstance call) -> its checked value's key (TCK-M111 = str)
        self._stack: list[cst.CSTNode] = []
        self.memo: dict[int, str | None] = {}
        self._loads: dict[tuple[int, str], str | None] = {}  # (scope, name) -> the key a read of it has
        self.handled_calls: set[int] = set()
        self.skip: set[int] = set()  # statements rewritten wholesale (the trainer's save pairs): not in the graph
        self.nodes: dict[str, cst.CSTNode] = {}  # site key -> node of this file
        self._sites: dict[tuple[int, str], str] = {}
        self._count = 0
        # what the rules plan on
        self.uses: list[tuple[str, cst.CSTNode, str, cst.BaseExpression]] = []  # key, node, attr, base
        self.producers: list[tuple[str, cst.Call, str, str]] = []  # key, call, method, receiver key
        self.params: list[tuple[str, cst.Param, cst.FunctionDef]] = []
        self.assigns: list[tuple[str, cst.CSTNode, cst.BaseExpression]] = []  # target key, statement, value
        self.fixture_defs: dict[str, cst.FunctionDef] = {}  # qualname -> def
        self.annotated: dict[int, str] = {}  # id of an annotation's expression -> the key it annotates
        self.constructions: list[tuple[str, cst.Call, cst.Call | str]] = []  # manager key, call, new call or reason
        self.method_calls: list[tuple[str, cst.Call, str]] = []  # receiver key, call, method (first-party or legacy)
        self.attr_reads: list[tuple[str, cst.Attribute]] = []  # receiver key, `x.attr` (not called)
        self.subscripts: list[tuple[str, cst.Subscript]] = []  # container key, `x[...]` read
        self.legacy_refs: list[tuple[cst.CSTNode, str, bool]] = []  # Name/Attribute naming a legacy class, typing?
        self.annotations: list[cst.Annotation] = []
        # TCK-M103 = save-checkpoint: id(PolicyRecord(...) call) -> (its three statements, the save_checkpoint call,
        # the metadata keys dropped, the record's site); id(store.save(pr) call) -> the record's site
        self.hand_saves: dict[int, tuple[list[cst.BaseStatement], cst.Call, list[str], str]] = {}
        self.hand_save_calls: dict[int, str] = {}
        self.hand_matched: set[int] = set()  # id(store.save(pr)) of every record built by hand and saved (decided or not)
        self.private_saves: set[int] = set()  # id(store.save(pr)) of a record built by hand, its file never an agent's
        self.save_pairs: list[tuple[list[cst.BaseStatement], cst.Call, list[str], list[str]]] = []  # the trainer's
        self.trainer_saves: list[cst.Call] = []  # TrainerCheckpoint(...).save(...) outside a save pair
        self.trainer_loads: list[cst.Call] = []  # TrainerCheckpoint.load(...)
        self.metadata_calls: list[cst.Call] = []  # PolicyMetadata(...), PolicyMetadata.from_dict(...)
        self.calls: dict[str, list[cst.Call]] = {}  # calls of WATCHED functions, by qualified name
        self.all_lists: list[cst.Assign] = []  # module-level `__all__ = [...]`
        self.manager_pairs: dict[int, cst.SimpleStatementLine] = {}  # id(save_agent call) -> its save_trainer_state line
        self.paired_states: set[int] = set()  # ids of the save_trainer_state calls merged into a save_agent
        self.funcs: list[tuple[str | None, str | None, str | None]] = []  # qualname, class, self name
        self._functions: list[cst.FunctionDef] = []
        self._typing = 0  # > 0 inside an annotation
        self._signatures(a.tree)

    # -- the walk -----------------------------------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        if type(node) in _LAYOUT:
            return False  # whitespace, comments and punctuation: nothing to record (most nodes of a tree)
        if self._stack:
            self.parents[node] = self._stack[-1]
        self._stack.append(node)
        if id(node) in self.skip:  # rewritten wholesale: its parents only, no graph
            node.visit(_Parents(self.parents))
            return False
        if type(node) in _CONTAINERS and _literal(node, 2):
            return False  # constant data (the bulk of a generated module): nothing legacy can flow through it
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if type(original_node) in _LAYOUT:
            return
        super().on_leave(original_node)
        self._stack.pop()

    # -- keys and facts -----------------------------------------------------------------------------
    def site(self, node: cst.CSTNode, tag: str = "") -> str:
        ident = (id(node), tag)
        name = self._sites.get(ident)
        if name is None:
            self._count += 1
            name = self._sites[ident] = f"s:{self.module}:{self._count}:{tag or type(node).__name__}"
            self.nodes[name] = node
            self.graph.places[name] = self.module
        return name

    def union(self, a: str | None, b: str | None) -> None:
        if a and b and a != "NONE" and b != "NONE":
            self.graph.unions.append((a, b))

    def fact(self, key: str | None, kind: str, reason: str = "", node: cst.CSTNode | None = None) -> None:
        if key and key != "NONE":
            self.graph.facts.append(Fact(key, kind, reason, self.site(node, "at") if node is not None else ""))

    def child(self, key: str, label: str) -> str:
        child = f"{key}{label}"
        self.graph.ops.append(ChildOp(key, label, child))
        return child

    def legacy(self, node: cst.CSTNode) -> str | None:
        return self.a.legacy(node)

    def qualified(self, node: cst.CSTNode) -> str | None:
        names = sorted(self.a.qualified(node))
        if not names and isinstance(node, cst.Name) and self._nested:  # a function defined in this function
            scope = self.scopes.get(node)
            while scope is not None:  # (from a comprehension or a lambda in it too)
                found = self._nested.get((id(scope), node.value))
                if found or scope.parent is scope:
                    return found
                scope = scope.parent
        return names[0] if names else None

    # -- scopes -------------------------------------------------------------------------------------
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
        return f"{self.module}@{self.site(node, 'scope')}"

    def func_qualname(self, node: cst.FunctionDef) -> str | None:
        return self._qualnames.get(id(node))

    def var_key(self, name: cst.Name) -> str | None:
        scope = self.scopes.get(name)
        if scope is None:
            return None
        if self.contexts.get(name) is ExpressionContext.LOAD:
            cached = (id(scope), name.value)  # all the bindings of the name: the same answer for every use
            if cached not in self._loads:
                self._loads[cached] = self._load_key(scope, name.value)
            return self._loads[cached]
        return f"v:{self.scope_name(scope)}:{name.value}"

    def _load_key(self, scope: Any, name: str) -> str | None:
        owners = set()
        for a in scope[name] if name in scope else ():  # noqa: SIM401 (a Scope has no .get)
            node = getattr(a, "node", None)
            if node is None or isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Import, cst.ImportFrom)):
                return None
            owners.add(self.scope_name(a.scope))
        return f"v:{min(owners)}:{name}" if owners else None

    def self_attr(self, node: cst.BaseExpression) -> str | None:
        """`a:<class>:<attr>` of `self.attr` in a method, or of `Class.attr` for a first-party class."""
        if not isinstance(node, cst.Attribute) or not isinstance(node.value, cst.Name):
            return None
        q = self.qualified(node.value)
        if q and not q.startswith("builtins.") and q.rpartition(".")[2][:1].isupper():  # (a class, by its name)
            return f"a:{q}:{node.attr.value}"
        if not self.funcs:
            return None
        _, cls, self_name = self.funcs[-1]
        if cls and self_name and node.value.value == self_name:
            return f"a:{cls}:{node.attr.value}"
        return None

    # -- signatures, classes and fixtures (module level and methods of module-level classes) ----------
    def _signatures(self, module: cst.Module) -> None:
        self._qualnames: dict[int, str] = {}
        self._fixture_qualnames: set[str] = set()
        self.aliases: dict[str, cst.BaseExpression] = {}  # module-level type aliases: name -> the type
        self.alias_uses: dict[str, list[str]] = {}  # a module-level type alias -> the keys it annotates here
        self._nested: dict[tuple[int, str], str] = {}  # (scope id, name) -> qualname of a function in a function
        for stmt in module.body:
            alias = _type_alias(stmt)
            if alias is not None:
                self.aliases[alias[0]] = alias[1]
            if isinstance(stmt, cst.FunctionDef):
                self._signature(stmt, f"{self.module}.{stmt.name.value}", False)
            elif isinstance(stmt, cst.ClassDef):
                cls = f"{self.module}.{stmt.name.value}"
                self.graph.bases[cls] = tuple(q for q in (self.qualified(a.value) for a in stmt.bases if not a.keyword) if q)
                if isinstance(stmt.body, cst.IndentedBlock):
                    for inner in stmt.body.body:
                        if isinstance(inner, cst.FunctionDef):
                            self._signature(inner, f"{cls}.{inner.name.value}", True)

    def _signature(self, node: cst.FunctionDef, q: str, is_method: bool) -> None:
        self._qualnames[id(node)] = q
        names = tuple(p.name.value for p in [*node.params.posonly_params, *node.params.params])
        kwonly = tuple("*" + p.name.value for p in node.params.kwonly_params)
        static = any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in node.decorators)
        self.graph.sigs[q] = (names + kwonly, is_method and not static)
        for d in node.decorators:
            target = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            if self.qualified(target) == "pytest.fixture" and not is_method:
                self.graph.fixtures[node.name.value] = q
                self._fixture_qualnames.add(q)

    # -- annotations ----------------------------------------------------------------------------------
    def annotate(self, key: str, ann: cst.BaseExpression, depth: int = 0) -> None:
        if depth == 0:
            self.annotated[id(ann)] = key
            self.fact(key, K.MEMBER, "annotation", ann)
        if depth > 3 or isinstance(ann, cst.SimpleString):
            return  # string annotations: the annotations rule rewrites them; no flow is derived from them
        legacy = self.legacy(ann)
        if legacy in RECORD_CLASSES:
            self.fact(key, K.REC, f"annotated {legacy}")
            if legacy in HALF_CLASSES:
                self.fact(key, "half")
        elif legacy == "PolicyStore":
            self.fact(key, K.STORE, "annotated PolicyStore")
        elif legacy == "SimplePolicyStore":
            self.fact(key, K.SSTORE, "annotated SimplePolicyStore")
        elif legacy == "SimpleCheckpointManager":
            self.fact(key, K.MGR, "annotated SimpleCheckpointManager")
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
                self.fact(key, K.LIST, "annotated")
                if items:
                    self.annotate(self.child(key, "[]"), items[0], depth + 1)
            elif tail in ("dict", "Dict", "Mapping", "MutableMapping", "OrderedDict"):
                self.fact(key, K.DICT, "annotated")
                if len(items) == 2:
                    self.annotate(self.child(key, "[]"), items[0], depth + 1)
                    self.annotate(self.child(key, "{v}"), items[1], depth + 1)
            elif tail in ("tuple", "Tuple"):
                for i, item in enumerate(items):
                    self.annotate(self.child(key, f"({i})"), item, depth + 1)
        elif isinstance(ann, cst.Name) and ann.value in self.aliases and \
                self.qualified(ann) == f"{self.module}.{ann.value}":  # `Env = tuple[DB, str]` in this module
            self.alias_uses.setdefault(ann.value, []).append(key)
            self.annotate(key, self.aliases[ann.value], depth + 1)
        else:
            q = self.qualified(ann)
            if q and not q.startswith(("builtins.", "typing.")):
                self.fact(key, f"{K.TYPE}:{q}", "annotated")

    def _names_legacy(self, ann: cst.BaseExpression, depth: int = 0) -> bool:
        """Whether an annotation names a legacy class (`X`, `Optional[X]`, `list[X]`, `X | None`, ...)."""
        if depth > 4:
            return False
        if isinstance(ann, (cst.Name, cst.Attribute)):
            return self.legacy(ann) is not None
        if isinstance(ann, cst.BinaryOperation):
            return self._names_legacy(ann.left, depth + 1) or self._names_legacy(ann.right, depth + 1)
        if isinstance(ann, cst.Subscript):
            return any(isinstance(e.slice, cst.Index) and self._names_legacy(e.slice.value, depth + 1) for e in ann.slice)
        return False

    # -- binding --------------------------------------------------------------------------------------
    def bind(self, target: cst.BaseExpression, key: str | None, value: cst.CSTNode | None) -> None:
        if isinstance(target, cst.Name):
            self._bind_key(self.var_key(target), key, value)
            scope = self.scopes.get(target)  # a class attribute: what `self.name` and `Class.name` read
            if isinstance(scope, ClassScope) and isinstance(scope.node, cst.ClassDef):
                tk = self.var_key(target)
                if tk:
                    self.union(tk, f"a:{self.scope_name(scope)}:{target.value}")
                    # (a subclass, an instance or `obj.name` elsewhere may read or rebind it: its methods resolve,
                    # but a record or store kept there stays as it is)
                    self.fact(tk, K.ESC, "kept as a class attribute, which subclasses and instances may rebind", value)
        elif isinstance(target, cst.Attribute):
            tk = self.self_attr(target)
            if tk:
                self._bind_key(tk, key, value)
            elif key:
                self.fact(key, K.ESC, f"stored on {code(target, 60)}", value)
                owner = self.classify(target.value)
                if owner and owner != "NONE":  # (`pr.metadata = meta`: the value goes where the object goes)
                    self.union(self.child(owner, f".{target.attr.value}"), key)
        elif isinstance(target, cst.Subscript):
            container = self.classify(target.value)
            element = target.slice[0].slice if len(target.slice) == 1 else None
            index = element.value if isinstance(element, cst.Index) else None
            if container:
                self.graph.ops.append(SetItemOp(container, self.classify(index) or "", key or "",
                                                self.site(target, "setsub")))
                if not key and value is not None and not (isinstance(value, cst.Name) and value.value == "None"):
                    self.graph.ops.append(SetItemUnknownOp(container, _assigned(value), self.site(target, "setsub")))
            elif key:
                self.fact(key, K.ESC, f"stored in {code(target, 60)}", value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, element in enumerate(target.elements):
                inner = None
                if key and not isinstance(element, cst.StarredElement):
                    inner = self.site(element, f"unpack{i}")  # a tuple's item i, or a list's element
                    self.graph.ops.append(UnpackOp(key, i, inner))
                self.bind(element.value, inner, value)

    def _bind_key(self, tk: str | None, key: str | None, value: cst.CSTNode | None, reason: str = "") -> None:
        if not tk or key == "NONE":
            return
        if key:
            self.union(tk, key)
        else:
            self.fact(tk, K.UNK, reason or (_assigned(value) if value is not None else "assigned"), value)

    def value_into(self, key: str, value: cst.BaseExpression) -> None:
        vk = self.classify(value)
        if vk == "NONE":
            return
        if vk:
            self.union(key, vk)
        else:
            self.fact(key, K.UNK, f"from {code(value, 60)}", value)

    # -- classifying expressions ----------------------------------------------------------------------
    def classify(self, node: cst.CSTNode | None) -> str | None:
        """The key of an expression's value (None: not a value this analysis follows)."""
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
            return self._classify_call(node)
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
            literal = int(index.value) if isinstance(index, cst.Integer) and index.value.isdigit() else None
            self.graph.ops.append(SubscriptOp(s, container, is_int, s, literal))
            self.subscripts.append((container, node))
            return s
        if type(node) in _CONTAINERS and node.elements and _literal(node, 2):  # type: ignore[attr-defined]
            return self._constant_display(node)
        if isinstance(node, (cst.List, cst.Set, cst.Tuple)):
            s = self.site(node, "display")
            if not isinstance(node, cst.Tuple):
                self.fact(s, K.LIST)
            for i, element in enumerate(node.elements):
                label = f"({i})" if isinstance(node, cst.Tuple) else "[]"
                if isinstance(element, cst.StarredElement):
                    inner = self.classify(element.value)
                    if inner and label == "[]":
                        self.union(self.child(s, "[]"), self.child(inner, "[]"))
                    else:
                        self.fact(self.child(s, label), K.UNK, f"*{code(element.value, 60)}", element)
                else:
                    self.value_into(self.child(s, label), element.value)
            return s
        if isinstance(node, cst.Dict):
            s = self.site(node, "dict")
            self.fact(s, K.DICT)
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    self.value_into(self.child(s, "[]"), element.key)
                    self.value_into(self.child(s, "{v}"), element.value)
                else:
                    self.fact(self.child(s, "{v}"), K.UNK, "** in a dict display", element)
            return s
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            s = self.site(node, "comp")
            self.fact(s, K.LIST)
            self.value_into(self.child(s, "[]"), node.elt)
            return s
        if isinstance(node, cst.DictComp):
            s = self.site(node, "dcomp")
            self.fact(s, K.DICT)
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

    def _constant_display(self, node: Any) -> str:
        """A list, tuple, set or dict of constants (generated modules hold megabytes of them): the facts
        `value_into` gives each item, once per kind of slot (a `None` item gives none, as there)."""
        s = self.site(node, "dict" if isinstance(node, cst.Dict) else "display")
        if isinstance(node, cst.Dict):
            self.fact(s, K.DICT)
            slots = [("[]", [e.key for e in node.elements]), ("{v}", [e.value for e in node.elements])]
        elif isinstance(node, cst.Tuple):  # (a tuple's items are each their own)
            slots = [(f"({i})", [e.value]) for i, e in enumerate(node.elements)]
        else:
            self.fact(s, K.LIST)
            slots = [("[]", [e.value for e in node.elements])]
        for label, values in slots:
            first = next((v for v in values if not (isinstance(v, cst.Name) and v.value == "None")), None)
            if first is not None:
                self.value_into(self.child(s, label), first)
        return s

    def args(self, args: Iterable[cst.Arg]) -> tuple[ArgSpec, ...]:
        out = []
        for arg in args:
            kw = arg.keyword.value if arg.keyword else ("*" if arg.star else "")
            out.append(ArgSpec(kw, self.classify(arg.value) or "", self.site(arg, "arg")))
        return tuple(out)

    # -- calls ------------------------------------------------------------------------------------------
    def _classify_call(self, call: cst.Call) -> str | None:
        func = call.func
        legacy = self.legacy(func)
        q = self.qualified(func)
        owner = self.legacy(func.value) if isinstance(func, cst.Attribute) else None
        attr = func.attr.value if isinstance(func, cst.Attribute) else None
        if q in AS_COMPLETED and len(call.args) == 1 and not call.args[0].keyword and not call.args[0].star:
            self.handled_calls.add(id(call))  # it yields the futures it was given, as they finish
            return self.classify(call.args[0].value)
        for cls, kind in (("PolicyStore", K.STORE), ("SimplePolicyStore", K.SSTORE)):
            if legacy == cls or (owner == cls and attr == "create"):
                self.handled_calls.add(id(call))
                s = self.site(call, "store")
                self.fact(s, kind, f"{cls}(...)")
                return s
        if legacy == "SimpleCheckpointManager":
            self.handled_calls.add(id(call))
            s = self.site(call, "manager")
            self.fact(s, K.MGR, "SimpleCheckpointManager(...)")
            new = manager_construction(call, lambda f: bool(self.a.qualified(f) & {"os.path.join", "posixpath.join"}))
            if isinstance(new, str):
                self.fact(s, block("checkpoint_manager"), new, call)
            self.constructions.append((s, call, new))
            return s
        if legacy == "PolicyMetadata" or (owner == "PolicyMetadata" and attr == "from_dict"):
            self.handled_calls.add(id(call))
            s = self.site(call, "meta")
            self.fact(s, K.META, "PolicyMetadata(...)", call)
            for arg in call.args:
                self.classify(arg.value)
            return s
        if owner == "MockPolicyRecord" and attr == "from_key_and_version":
            self.handled_calls.add(id(call))
            s = self.site(call, "mock")
            self.fact(s, K.REC, "MockPolicyRecord.from_key_and_version")
            if len(call.args) != 2 or any(a.star or a.keyword for a in call.args):
                self.fact(s, block("policy_store"), "MockPolicyRecord.from_key_and_version with unusual arguments", call)
            self.producers.append((s, call, "from_key_and_version", ""))
            return s
        if (owner in RECORD_CLASSES and attr == "__new__") or legacy in RECORD_CLASSES:
            self.handled_calls.add(id(call))
            s = self.site(call, "built")
            cls = owner or legacy
            self.fact(s, K.REC, "built by hand")
            if id(call) in self.hand_saves:  # decided: saved with save_checkpoint (the store argument goes)
                for i, arg in enumerate(call.args[1:], start=1):  # (what it is built from stays with it)
                    value = self.classify(arg.value)
                    if value:
                        self.union(self.child(s, f".arg{i}"), value)
                return s
            for i, arg in enumerate(call.args):  # what the legacy record is built from stays with it
                value = self.classify(arg.value)
                if value and not (cls == "PolicyRecord" and (arg.keyword.value == "policy_store" if arg.keyword else
                                                             i == 0)):  # (its store stays as what it is)
                    self.union(self.child(s, f".arg{i}"), value)
            if cls in HALF_CLASSES:
                self.fact(s, "half")
                self.fact(s, block("simple_policy_store"), WRAPPER_BUILT, call)
            else:
                self.fact(s, block("policy_store"), f"{cls} built by hand; decide where its checkpoint lives", call)
            return s
        if q in PATH_PRODUCERS:
            s = self.site(call, "path")
            if PATH_PRODUCERS[q] == "list":
                self.fact(s, K.LIST)
                self.fact(self.child(s, "[]"), K.REC, PATH_TAG + q)
            else:
                self.fact(s, K.REC, PATH_TAG + q)
            return s
        if q in ("typing.cast", "typing_extensions.cast") and len(call.args) == 2:
            self.handled_calls.add(id(call))
            return self.classify(call.args[1].value)
        if q in MOCKS:
            s = self.site(call, "double")
            self.fact(s, K.MOCK, code(call, 60))
            return s
        if q in HARMLESS or q in PATH_CONSUMERS or (attr in LOG_METHODS and q is None):
            return None
        if q in SEQUENCE_COPIES and call.args:
            self.handled_calls.add(id(call))
            inner = self.classify(call.args[0].value)
            self._key_lambdas(call, inner)
            if not inner:
                return None
            s = self.site(call, "copy")
            self.fact(s, K.LIST)
            self.union(self.child(s, "[]"), self.child(inner, "[]"))
            return s
        if q in ("builtins.max", "builtins.min") and call.args and not call.args[0].keyword:
            self.handled_calls.add(id(call))
            inner = self.classify(call.args[0].value)
            self._key_lambdas(call, inner)
            return self.child(inner, "[]") if inner else None
        if q in ("builtins.enumerate", "builtins.zip") and call.args:
            self.handled_calls.add(id(call))
            s = self.site(call, "zip")
            self.fact(s, K.LIST)
            element = self.child(s, "[]")
            sources: list[cst.BaseExpression | None] = [a.value for a in call.args if not a.keyword]
            if q == "builtins.enumerate":
                sources = [None, sources[0]]
            for i, source in enumerate(sources):
                inner = self.classify(source) if source is not None else None
                if inner:
                    self.union(self.child(element, f"({i})"), self.child(inner, "[]"))
            return s
        if isinstance(func, cst.Attribute):
            return self._method_call(call, func)
        if q and not q.startswith("builtins."):
            return self._function_call(call, q)
        return None

    def _function_call(self, call: cst.Call, callee: str) -> str:
        """A call of a function (or class) by its qualified name: its arguments flow into the callee."""
        self.handled_calls.add(id(call))
        s = self.site(call, "call")
        args = self.args(call.args)
        self._sinks(callee, args)
        self.graph.ops.append(CallOp(callee, args, s, False, s))
        return s

    def _sinks(self, callee: str, args: tuple[ArgSpec, ...]) -> None:
        """A function of a legacy module keeps what it is given legacy (it stays, or goes with its module)."""
        if self.a.names.is_legacy_module(callee.rpartition(".")[0]):
            for arg in args:
                self.fact(arg.key or None, K.SINK, f"passed to {callee.rpartition('.')[2]}(), which stays legacy",
                          self.nodes.get(arg.site))

    def _method_call(self, call: cst.Call, func: cst.Attribute) -> str | None:
        attr = func.attr.value
        receiver = self._super(func.value) or self.classify(func.value)
        if attr in PRODUCER_METHODS:
            return self._producer(call, receiver, attr)
        if id(call) in self.hand_save_calls and receiver:  # decided: goes with the record's unit
            self.handled_calls.add(id(call))
            self.graph.ops.append(ProducerOp(self.hand_save_calls[id(call)], receiver, "save", self.site(call, "storecall"),
                                             None, "not a SimplePolicyStore method"))
            return None
        upload = attr in STORE_UPLOADS and receiver is not None and self._upload_statement(call) is not None and \
            chosen(self.a.config.decisions, "remote-uri") == "not-implemented" and \
            not any(a.star or calls_code(a.value) for a in call.args)  # (dropping the statement drops no call)
        if attr in STORE_MANUAL and receiver and not upload:
            self.graph.ops.append(StoreCallOp(receiver, attr, self.site(call, "storecall"), id(call) in self.private_saves))
        if attr == "submit" and call.args and not call.args[0].keyword:
            target = self.qualified(call.args[0].value)
            if target and not target.startswith("builtins."):
                self.handled_calls.add(id(call))
                s = self.site(call, "future")
                self.graph.ops.append(CallOp(target, self.args(call.args[1:]), self.child(s, ".result"), False, s))
                return s
        if attr in LOG_METHODS:
            return None
        self_name = self.funcs[-1][2] if self.funcs else None
        if isinstance(func.value, cst.Name) and self_name and func.value.value == self_name:
            self.handled_calls.add(id(call))
            s = self.site(call, "call")
            self.graph.ops.append(CallOp(f"{self.funcs[-1][1]}.{attr}", self.args(call.args), s, True, s))
            return s
        q = self.qualified(func)
        if receiver is None:
            if q and not q.startswith("builtins."):  # Class.static_method(...), module.function(...)
                return self._function_call(call, q)
            return None
        if attr == "result" and not call.args:
            self.handled_calls.add(id(call))
            return self.child(receiver, ".result")
        if attr in _CONTAINER_CALLS:
            return self._container_call(call, receiver, attr)
        self.handled_calls.add(id(call))
        s = self.site(call, "mcall")
        self.graph.ops.append(MethodCallOp(receiver, attr, self.args(call.args), s, s, self._manager_problem(call, attr),
                                           upload))
        self.method_calls.append((receiver, call, attr))
        return s

    def _upload_statement(self, call: cst.Call) -> cst.SimpleStatementLine | None:
        """The statement a wandb upload is the whole of (`store.add_to_wandb_run(run_id, pr)`), else None."""
        expr = self.parents.get(call)
        line = self.parents.get(expr) if isinstance(expr, cst.Expr) else None
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or in_try(self.parents, line):
            return None  # (in a try body a handler could catch what the legacy call raised, not the raise)
        return line

    def _super(self, node: cst.BaseExpression) -> str | None:
        """`super()` in a method of a first-party class: a value whose methods are its bases' (Solution)."""
        if isinstance(node, cst.Call) and not node.args and self.qualified(node.func) == "builtins.super" and \
                self.funcs and self.funcs[-1][1]:
            s = self.site(node, "super")
            self.fact(s, f"{K.TYPE}:{SUPER}{self.funcs[-1][1]}", "super()")
            return s
        return None

    def _manager_problem(self, call: cst.Call, method: str) -> str | None:
        """Why `<manager>.<method>(...)` has no tinyckpt counterpart (None: it has one)."""
        if method in MANAGER_RENAMED or method in MANAGER_UNCHANGED or method in MANAGER_NEW_API:
            return None
        if method == "save_agent":
            found = manager_args(call, SAVE_ARGS)
            if found is None:
                return "unexpected save_agent arguments; rewrite as save_checkpoint(agent, epoch, trainer_state)"
            if calls_code(found["metadata"]):
                return "save_agent metadata calls code (tinyckpt saves no metadata); decide what to keep"
            return None
        if method == "get_checkpoint_count" and not call.args:
            return None
        if method == "save_trainer_state" and id(call) in self.paired_states:
            return None
        if method in BEST and chosen(self.a.config.decisions, "best-checkpoint") == "latest" and \
                len(call.args) <= 1 and not any(a.star for a in call.args):
            return None  # decided: the rule writes the latest checkpoint / every checkpoint
        if method in MANAGER_NO_COUNTERPART:
            return MANAGER_NO_COUNTERPART[method]
        return f"SimpleCheckpointManager.{method} has no tinyckpt counterpart; decide"

    def _container_call(self, call: cst.Call, receiver: str, attr: str) -> str | None:
        self.handled_calls.add(id(call))
        self.method_calls.append((receiver, call, attr))
        if attr == "append" and call.args:
            self.value_into(self.child(receiver, "[]"), call.args[0].value)
            return None
        if attr == "extend" and call.args:
            inner = self.classify(call.args[0].value)
            if inner:
                self.union(self.child(receiver, "[]"), self.child(inner, "[]"))
            else:
                self.fact(self.child(receiver, "[]"), K.UNK, f"extended from {code(call.args[0].value, 60)}", call)
            return None
        if attr in ("keys", "copy"):
            return receiver
        s = self.site(call, attr)
        if attr == "values":
            self.union(self.child(s, "[]"), self.child(receiver, "{v}"))
        elif attr == "items":
            element = self.child(s, "[]")
            self.union(self.child(element, "(0)"), self.child(receiver, "[]"))
            self.union(self.child(element, "(1)"), self.child(receiver, "{v}"))
        else:  # get
            self.union(s, self.child(receiver, "{v}"))
        return s

    def _key_lambdas(self, call: cst.Call, inner: str | None) -> None:
        for arg in call.args:
            if arg.keyword and arg.keyword.value == "key" and isinstance(arg.value, cst.Lambda):
                params = arg.value.params.params
                if params and inner:
                    self.union(self.var_key(params[0].name), self.child(inner, "[]"))

    def _producer(self, call: cst.Call, receiver: str | None, method: str) -> str:
        """A store call that selects records. It is one only when the receiver is a store of the kind
        whose method it is (decided in the solution); a same-named method elsewhere is left alone."""
        self.handled_calls.add(id(call))
        s = self.site(call, "producer")
        full, half = self.producer_problems(call, method)
        self.graph.ops.append(ProducerOp(s, receiver or "", method, self.site(call, "at"), full, half))
        if method == "policy_records":
            self.fact(s, K.LIST)
        for arg in call.args:
            self.classify(arg.value)
        self.producers.append((s, call, method, receiver or ""))
        return s

    def producer_problems(self, call: cst.Call, method: str) -> tuple[str | None, str | None]:
        """(as a PolicyStore call, as a SimplePolicyStore call): why it has no counterpart, or None."""
        decisions = self.a.config.decisions
        full = STORE_MANUAL.get(method) if method not in FULL_PRODUCERS else producer_problem(call, method, decisions)
        if full and remote_uri(call) and self._stack:  # the walk is above `call`: its parents, to find its statement
            self._stack[-1].visit(_Parents(self.parents))
        if full and remote_decided(call, decisions, self.parents) or method == "policy_record_or_mock" and \
                or_mock_decided(call, decisions):
            full = None
        half = half_record_problem(call, method) if method in HALF_RECORD_CALLS else "not a SimplePolicyStore method"
        if half and remote_decided(call, decisions, self.parents) or method == "policy_record_or_mock" and \
                or_mock_decided(call, decisions):  # (the same decisions on a SimplePolicyStore)
            half = None
        return full, half

    # -- visiting ---------------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.annotations.append(node)
        self._typing += 1

    def leave_Annotation(self, original_node: cst.Annotation) -> None:
        self._typing -= 1

    def visit_Module(self, node: cst.Module) -> None:
        self._blocks(node.body, trainer=False)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks(node.body, trainer=True)

    def _blocks(self, body: Any, trainer: bool) -> None:
        """Statement sequences rewritten as a whole: the trainer's save pair (four statements, left out of
        the graph) and a manager's save_agent followed by save_trainer_state of the same epoch."""
        stmts = list(body)
        i = 0
        while i < len(stmts):
            found = match_save_pair(stmts, i, self.legacy, self._assigned, TRAINER_CHECKPOINT_DROPPED) \
                if trainer else None
            if found is not None and self._read_later(stmts, i, 4):
                found = None  # (the rewrite drops the record the code reads afterwards)
            if found is None and trainer and self._hand_save(stmts, i):
                i += 3
                continue
            if found is None:
                i += 1
                continue
            self.save_pairs.append((stmts[i:i + 4], *found))
            self.graph.writes.append(self.site(stmts[i], "pair"))
            self.skip.update(id(s) for s in stmts[i:i + 4])
            store = stmts[i].body[0].value.args[0].value  # PolicyRecord(store, ...): needed while the pair stays
            key = self.var_key(store) if isinstance(store, cst.Name) else self.self_attr(store)
            if key:
                self.graph.occurrences.append(Occurrence(key, "pair", ""))
            i += 4
        for first, second in zip(stmts, stmts[1:]):
            pair = _manager_pair(first, second)
            if pair is not None:
                self.manager_pairs[id(pair)] = second
                self.paired_states.add(id(state_call(second)))

    def _read_later(self, stmts: list[Any], i: int, n: int) -> bool:
        """Whether the name stmts[i] assigns (`pr = ...`) may be read outside stmts[i:i+n] once they ran: after
        them in their block or in the blocks around it, or anywhere in a loop around them (the next turn)."""
        first = stmts[i].body[0] if isinstance(stmts[i], cst.SimpleStatementLine) and stmts[i].body else None
        target = first.targets[0].target if isinstance(first, cst.Assign) and len(first.targets) == 1 else None
        if not isinstance(target, cst.Name):
            return False
        name, rest = target.value, list(stmts[i + n:])
        block: Any = self._stack[-1] if self._stack else None  # the block being visited (its statements: `stmts`)
        node = block
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Module)):
            parent = self.parents.get(node)
            if isinstance(node, (cst.For, cst.While)):
                rest.append(node)  # (a turn of the loop may read what the last turn assigned)
            if isinstance(parent, (cst.IndentedBlock, cst.Module)):
                siblings = list(parent.body)
                rest += siblings[siblings.index(node) + 1:] if node in siblings else []
            node = parent
        own = stmts[i:i + n]
        others = [stmt for stmt in rest if all(stmt is not s for s in own)]
        return any(found.value == name for stmt in others for found in read_names(stmt, own))

    def _hand_save(self, stmts: list[Any], i: int) -> bool:
        """A record built by hand and saved (stmts[i:i+3]), when TCK-M103 = save-checkpoint: the record is a
        checkpoint path from the start, `pr.policy = agent` is part of the rewrite (left out of the graph),
        and the store's save ties the store to the record's unit (kept while the record stays legacy)."""
        found = match_hand_save(stmts, i, self.legacy, self._assigned)
        if found is None:
            return False
        built, call, dropped, private = found
        self.hand_matched.add(id(stmts[i + 2].body[0].value))
        if private:  # its file is never an agent checkpoint's name: no tinyckpt reader lists it (Solution._disk)
            self.private_saves.add(id(stmts[i + 2].body[0].value))
        if chosen(self.a.config.decisions, "record-built-by-hand") != "save-checkpoint" or \
                not _plain(stmts[i + 1].body[0].value):  # (the agent moves into save_checkpoint as it is written)
            return False
        key = self.site(built, "built")
        self.hand_saves[id(built)] = (stmts[i:i + 3], call, dropped, key)
        self.hand_save_calls[id(stmts[i + 2].body[0].value)] = key
        self.skip.add(id(stmts[i + 1]))
        return True

    def _assigned(self, name: str) -> list[cst.BaseExpression]:
        """The values the enclosing function assigns to `name` (plain `name = value` statements)."""
        return assigned_in(self._functions[-1] if self._functions else None, name, self.a.tree)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        q = self.func_qualname(node)
        outer = self.funcs[-1][0] if self.funcs and self._functions and self.parents.get(
            self.parents.get(node)) is self._functions[-1] else None
        if q is None and outer and _defined_once(self._functions[-1], node.name.value):
            q = f"{outer}.<locals>.{node.name.value}"  # a function defined in a function's body, bound only there
            self._signature(node, q, False)
            self._nested[(id(self.scopes.get(node.name)), node.name.value)] = q
        self._functions.append(node)
        cls = q.rpartition(".")[0] if q and q.count(".") > self.module.count(".") + 1 else None
        static = any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in node.decorators)
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        self_name = params[0].name.value if cls and params and not static else None
        self.funcs.append((q, cls, self_name))
        is_fixture = q is not None and q in self.graph.fixtures.values()
        for i, param in enumerate(params):
            if self_name and i == 0:
                continue
            local = self.var_key(param.name)
            if not q:
                self.fact(local, K.UNK, "parameter of a nested function", param)
                if param.annotation is not None and local:
                    self.annotate(local, param.annotation.annotation)
                continue
            pk = f"p:{q}:{param.name.value}"
            evidence = param.annotation is not None and self._names_legacy(param.annotation.annotation)
            self.fact(pk, K.ORIGIN, f"{pk}|{'annotated' if evidence else ''}", param)
            self.union(pk, local)
            self.graph.occurrences.append(Occurrence(pk, "assign", local or ""))
            if param.annotation is not None:
                self.annotate(pk, param.annotation.annotation)
            if param.default is not None:
                self.value_into(pk, param.default)
            self.params.append((pk, param, node))
            if is_test_module(self.module) and not cls and (is_fixture or node.name.value.startswith("test")):
                self.graph.ops.append(FixtureOp(pk, param.name.value, self.module))
                self.graph.tests.add(q)
        if node.returns is not None:
            returns = node.returns.annotation
            if is_fixture and q and isinstance(returns, cst.Subscript) and returns.slice and \
                    isinstance(returns.slice[0].slice, cst.Index) and (self.qualified(returns.value) or "").rpartition(
                        ".")[2] in ("Iterator", "Generator", "Iterable"):
                self.annotated[id(returns)] = f"r:{q}"  # a yield fixture's value is what it yields
                self.annotate(f"r:{q}", returns.slice[0].slice.value)
            elif q:
                self.annotate(f"r:{q}", node.returns.annotation)
            else:
                self.annotated[id(node.returns.annotation)] = ""
        if is_fixture and q:
            self.fixture_defs[q] = node

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.funcs.pop()
        self._functions.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, cst.Arg) and parent.keyword and parent.keyword.value == "key":
            return  # bound to the elements by the sorted()/max()/min() call
        for param in node.params.params:
            self.fact(self.var_key(param.name), K.UNK, "lambda parameter", param)

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self.funcs and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and \
                node.targets[0].target.value == "__all__" and isinstance(self.scopes.get(node), GlobalScope):
            self.all_lists.append(node)
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
        else:
            self.annotated[id(node.annotation.annotation)] = ""
        if node.value is not None:
            self.bind(node.target, self.classify(node.value), node.value)
            if tk:
                self.assigns.append((tk, self.parents[node], node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        key, tk = self.classify(node.value), self.target_key(node.target)
        self._bind_key(tk, key, node.value, f"augmented with {code(node.value, 60)}")

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
            self.fact(f"r:{q}", K.RET, q, node)
        else:
            self.fact(self.classify(node.value), K.ESC, "returned from a nested function", node)

    def visit_Yield(self, node: cst.Yield) -> None:
        """A pytest fixture's value is what it yields (the code after the yield is its teardown)."""
        if self._yields_fixture_value(node):
            self.value_into(f"r:{self.funcs[-1][0]}", node.value)  # type: ignore[arg-type]

    def _yields_fixture_value(self, node: cst.CSTNode) -> bool:
        q = self.funcs[-1][0] if self.funcs else None
        return isinstance(node, cst.Yield) and isinstance(node.value, cst.BaseExpression) and \
            q is not None and q in self._fixture_qualnames

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.a.legacy_locals:
            legacy = self.legacy(node)
            if legacy:
                self.legacy_refs.append((node, legacy, self._typing > 0))
        if self.contexts.get(node) is ExpressionContext.LOAD:
            self._examine(node)
            if not self._typing and not self._type_position(node):
                q = self.qualified(node)
                if q and not q.startswith("builtins."):
                    parent = self.parents.get(node)
                    if isinstance(parent, cst.Attribute) and parent.value is node:  # `C.attr`, `C.method(...)`:
                        grand = self.parents.get(parent)                           # C itself is not passed on
                        if not (isinstance(grand, cst.Call) and grand.func is parent):
                            self.graph.fnrefs.add(f"{q}.{parent.attr.value}")  # (`C.method` may be)
                    elif not (isinstance(parent, cst.Call) and parent.func is node) and not self._is_submit_target(node):
                        self.graph.fnrefs.add(q)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        head = node.value
        while isinstance(head, cst.Attribute):
            head = head.value
        if isinstance(head, cst.Name) and head.value in self.a.legacy_locals:
            legacy = self.legacy(node)
            if legacy:
                self.legacy_refs.append((node, legacy, self._typing > 0))
        if self.contexts.get(node) is not ExpressionContext.STORE:
            self._examine(node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        owner = func.value if isinstance(func, cst.Attribute) else None
        method = func.attr.value if isinstance(func, cst.Attribute) else None
        if method == "save" and isinstance(owner, cst.Call) and self.legacy(owner.func) == "TrainerCheckpoint":
            self.trainer_saves.append(node)
        elif method == "load" and self.legacy(owner) == "TrainerCheckpoint":
            self.trainer_loads.append(node)
        elif method == "from_dict" and self.legacy(owner) == "PolicyMetadata" or self.legacy(func) == "PolicyMetadata":
            self.metadata_calls.append(node)
        if isinstance(func, (cst.Name, cst.Attribute)):
            for q in self.a.qualified(func) & WATCHED:
                self.calls.setdefault(q, []).append(node)
        self._examine(node)

    def _type_position(self, node: cst.Name) -> bool:
        """A class named where no instance is made: a base class, isinstance's or except's class."""
        parent = self.parents.get(node)
        grand = self.parents.get(parent) if parent is not None else None
        if isinstance(parent, cst.Arg) and isinstance(grand, cst.ClassDef):
            return True
        if isinstance(parent, cst.ExceptHandler):
            return True
        return isinstance(parent, cst.Arg) and isinstance(grand, cst.Call) and len(grand.args) == 2 and \
            grand.args[1] is parent and isinstance(grand.func, cst.Name) and grand.func.value in ("isinstance", "issubclass")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.contexts.get(node) is not ExpressionContext.STORE:
            self._examine(node)

    def _is_submit_target(self, node: cst.Name) -> bool:
        arg = self.parents.get(node)
        call = self.parents.get(arg) if isinstance(arg, cst.Arg) else None
        return isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
            call.func.attr.value == "submit" and bool(call.args) and call.args[0] is arg

    def _examine(self, node: cst.BaseExpression) -> None:
        key = self.classify(node)
        if not key or key == "NONE":
            return
        verdict = self._judge(node, key)
        if verdict is not None:
            kind, reason = verdict
            self.fact(key, kind, reason, node)

    # -- how a followed value's parent uses it ------------------------------------------------------------
    def _judge(self, node: cst.BaseExpression, key: str) -> tuple[str, str] | None:
        parent = self.parents.get(node)
        if isinstance(node, (cst.Name, cst.Attribute)):
            self._occurrence(node, key, parent)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return self._attribute(node, key, parent)
        if isinstance(parent, cst.Arg):
            call = self.parents.get(parent)
            if isinstance(call, cst.Call) and id(call) in self.handled_calls:
                return None
            return self._argument(call, parent) if isinstance(call, cst.Call) else (K.ESC, "argument")
        if isinstance(parent, cst.StarredElement):
            return (K.ESC, "unpacked with *")
        if isinstance(parent, _UNDERSTOOD):
            return None
        if isinstance(parent, cst.Call) and parent.func is node:
            return (K.ESC, "called")
        if self._yields_fixture_value(parent):  # (followed: visit_Yield)
            return None
        return (K.ESC, f"used in a {type(parent).__name__}")

    def _attribute(self, node: cst.BaseExpression, key: str, parent: cst.Attribute) -> tuple[str, str] | None:
        attr = parent.attr.value
        grand = self.parents.get(parent)
        called = isinstance(grand, cst.Call) and grand.func is parent
        loaded = self.contexts.get(parent) is ExpressionContext.LOAD
        if attr in RECORD_ATTRS and not called:
            if not loaded:
                return (K.RBLOCK, f"@assign:{attr}")
            self._use(key, parent, attr, node)
            return None
        if attr == "metadata" and not called:
            if isinstance(grand, cst.Attribute) and grand.attr.value == "epoch" and \
                    self.contexts.get(grand) is ExpressionContext.LOAD:
                self._use(key, grand, "epoch", node)
                return None
            if isinstance(grand, cst.Subscript) and _subscript_key(grand) == "epoch" and \
                    self.contexts.get(grand) is ExpressionContext.LOAD:
                self._use(key, grand, "epoch", node)
                return None
            shown = code(grand if isinstance(grand, (cst.Attribute, cst.Subscript)) else parent, 60)
            suffix = "metadata"
            if isinstance(grand, cst.Attribute) and grand.value is parent:
                suffix = f"metadata.{grand.attr.value}"
            elif isinstance(grand, cst.Subscript) and grand.value is parent:
                suffix = f"metadata.{_subscript_key(grand) or '?'}"
            return (K.RBLOCK, f"@metadata:{shown}:{suffix}")
        if called and (attr in PRODUCER_METHODS or id(grand) in self.handled_calls):
            return None
        if not called:
            self.attr_reads.append((key, parent))
            self.fact(key, K.MEMBER, attr, parent)
        return (K.ATTR, attr)

    def _use(self, key: str, node: cst.CSTNode, attr: str, base: cst.BaseExpression) -> None:
        self.uses.append((key, node, attr, base))
        self.fact(key, K.USE, attr, node)

    def _argument(self, call: cst.Call, arg: cst.Arg) -> tuple[str, str] | None:
        q = self.qualified(call.func) or ""
        if q == "builtins.isinstance":
            if call.args and call.args[0] is arg and len(call.args) == 2:
                legacy = self.legacy(call.args[1].value)
                if legacy in RECORD_CLASSES and chosen(self.a.config.decisions, "type-check") == "str":
                    key = self.classify(arg.value)  # TCK-M111 = str: what passes the check is a record
                    if isinstance(arg.value, cst.Name):
                        param = self._param_key(arg.value)
                        if param and self._only_narrowed(call, arg.value.value):
                            self.fact(param, K.DISPATCH, "isinstance check")
                            self.fact(param, K.REC, "checked by isinstance")
                    self.type_checks[id(call)] = key or ""
                    return None
                if legacy:
                    if isinstance(arg.value, cst.Name):
                        param = self._param_key(arg.value)
                        if param and self._only_narrowed(call, arg.value.value):
                            self.fact(param, K.DISPATCH, "isinstance check")
                    return (K.RBLOCK, ISINSTANCE_REASON.format(cls=legacy))
            return None
        if q in HARMLESS or q in PATH_CONSUMERS or q.startswith("pytest.approx."):
            return None
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in LOG_METHODS:
            return None
        return (K.ESC, f"passed to {code(call.func, 40)}(), which this tool cannot follow")

    def _only_narrowed(self, check: cst.Call, name: str) -> bool:
        """`if isinstance(name, Record):` in a function that reads attributes of `name` only in that branch
        (the function takes records or other values and tells them apart itself)."""
        test = self.parents.get(check)
        if not isinstance(test, cst.If) or test.test is not check:
            return False
        function: Any = test
        while function is not None and not isinstance(function, cst.FunctionDef):
            function = self.parents.get(function)
        if function is None:
            return False
        inside: set[int] = set()

        class _Mark(cst.CSTVisitor):
            def visit_Attribute(self, node: cst.Attribute) -> None:
                inside.add(id(node))
        test.body.visit(_Mark())
        outside: list[cst.Attribute] = []

        class _Find(cst.CSTVisitor):
            def visit_Attribute(self, node: cst.Attribute) -> None:
                if isinstance(node.value, cst.Name) and node.value.value == name and id(node) not in inside:
                    outside.append(node)
        function.body.visit(_Find())
        return not outside

    def _param_key(self, name: cst.Name) -> str | None:
        """`p:<function>:<name>` when `name` is a parameter of the enclosing function."""
        if not self.funcs or not self.funcs[-1][0]:
            return None
        key = self.var_key(name)
        q = self.funcs[-1][0]
        return f"p:{q}:{name.value}" if key == f"v:{q}:{name.value}" and q in self.graph.sigs and \
            name.value in self.graph.sigs[q][0] else None

    def _occurrence(self, node: cst.BaseExpression, key: str, parent: cst.CSTNode | None) -> None:
        """How this occurrence of a name uses a store (see `Solution._stores`)."""
        how, detail = "other", ""
        if isinstance(parent, cst.Attribute) and parent.value is node:
            grand = self.parents.get(parent)
            if isinstance(grand, cst.Call) and grand.func is parent and (parent.attr.value in PRODUCER_METHODS or
                                                                           id(grand) in self.hand_save_calls):
                how = "recv"
            elif isinstance(grand, cst.Call) and grand.func is parent and parent.attr.value in STORE_UPLOADS and \
                    chosen(self.a.config.decisions, "remote-uri") == "not-implemented" and \
                    self._upload_statement(grand) is not None:
                how, detail = "upload", self.site(grand, "mcall")  # (needed unless the upload goes)
        elif isinstance(parent, cst.Arg) and id(self.parents.get(parent)) in self.hand_saves:
            how = "recv"  # the store a record built by hand is saved with (TCK-M103 decided): see the save
        elif isinstance(parent, cst.Arg):
            how, detail = "arg", self.site(parent, "arg")
        elif isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is node:
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            tk = self.target_key(targets[0]) if len(targets) == 1 else None
            how, detail = ("assign", tk) if tk else ("other", "")
        elif isinstance(parent, cst.Return) and self.funcs and self.funcs[-1][0]:
            how, detail = "assign", f"r:{self.funcs[-1][0]}"
        self.graph.occurrences.append(Occurrence(key, how, detail))


class _Parents(cst.CSTVisitor):
    def __init__(self, parents: dict[cst.CSTNode, cst.CSTNode]) -> None:
        super().__init__()
        self.parents, self.stack = parents, []  # type: ignore[var-annotated]

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.parents[node] = self.stack[-1]
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


def _manager_call(line: Any, method: str, whole: bool = False) -> cst.Call | None:
    """The `<x>.<method>(...)` call a simple statement line is made of (`y = <x>.<method>(...)` too unless `whole`)."""
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    small = line.body[0]
    value = small.value if isinstance(small, cst.Expr) else None
    if not whole and isinstance(small, cst.Assign) and len(small.targets) == 1:
        value = small.value
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == method:
        return value
    return None


SAVE_ARGS = ("agent", "epoch", "metadata")
STATE_ARGS = ("optimizer", "epoch", "agent_step")


def manager_args(call: cst.Call | None, names: tuple[str, ...]) -> dict[str, cst.BaseExpression] | None:
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


def _manager_pair(first: Any, second: Any) -> cst.Call | None:
    """The save_agent call of `first` when `second` is the save_trainer_state of the same receiver and epoch."""
    save = _manager_call(first, "save_agent")
    state = _manager_call(second, "save_trainer_state", whole=True)
    if save is None or state is None or code(save.func.value) != code(state.func.value):  # type: ignore[attr-defined]
        return None
    agent_args, state_args = manager_args(save, SAVE_ARGS), manager_args(state, STATE_ARGS)
    if agent_args is None or state_args is None or code(agent_args["epoch"]) != code(state_args["epoch"]):
        return None
    return save


def state_call(line: cst.SimpleStatementLine) -> cst.Call | None:
    return _manager_call(line, "save_trainer_state", whole=True)


def _defined_once(function: cst.FunctionDef, name: str) -> bool:
    """`name` is bound once in the function (and the functions in it): by one `def`, nothing else."""
    defs: list[cst.CSTNode] = []

    class _Defs(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if node.name.value == name and node is not function:
                defs.append(node)

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            if node.name.value == name:
                defs.append(node)
    function.body.visit(_Defs())
    return len(defs) == 1 and not assigned_in(function, name)


def _plain(node: cst.BaseExpression) -> bool:
    """A name, a literal, or a call of a dotted name with such arguments (`agent`, `TinyAgent()`): an
    expression no other edit can touch (no attribute of a value is read)."""
    if isinstance(node, (cst.Name, cst.SimpleString, cst.Integer, cst.Float)):
        return True
    return isinstance(node, cst.Call) and dotted(node.func) is not None and \
        all(not a.star and _plain(a.value) for a in node.args)


def _type_alias(stmt: cst.CSTNode) -> tuple[str, cst.BaseExpression] | None:
    """(name, type) of a module-level `Name = tuple[...]` / `Name: TypeAlias = ...` (a subscripted type)."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name) \
            and isinstance(small.value, cst.Subscript):
        return small.targets[0].target.value, small.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and isinstance(small.value, cst.Subscript) \
            and code(small.annotation.annotation).rpartition(".")[2] == "TypeAlias":
        return small.target.value, small.value
    return None


def _assigned(value: cst.CSTNode) -> str:
    return f"assigned from {code(value, 60)}"


def _subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return literal_str(node.slice[0].slice.value)
    return None
