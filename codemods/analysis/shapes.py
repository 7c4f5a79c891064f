"""Shapes of legacy calls, judged on their nodes alone: which store calls have a tinyckpt counterpart,
what a run directory's parent is, what the trainer's save pair is. Pure functions over LibCST nodes
(no metadata), shared by the analysis and the rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import libcst as cst

from codemods.decisions import chosen

_EMPTY = cst.Module([])


def code(node: cst.CSTNode, limit: int = 0) -> str:
    """The source text of a node (whitespace runs collapsed and cut to `limit` when given)."""
    text = _EMPTY.code_for_node(node)
    if not limit:
        return text
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


PURE_CALLS = frozenset({"float", "int", "str", "round", "len", "dict", "abs", "bool", "min", "max"})  # dropping these drops nothing


def calls_code(node: cst.CSTNode) -> bool:
    """Whether an expression calls anything but a few pure builtins and path arithmetic (dropping it would
    drop a side effect)."""
    return any(not (isinstance(c.func, cst.Name) and c.func.value in PURE_CALLS or
                    (dotted(c.func) or "").startswith("os.path.")) for c in nodes_of(node, cst.Call))


def literal_str(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def dotted(node: cst.CSTNode | None) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def params_of(node: cst.FunctionDef | cst.Lambda) -> list[cst.Param]:
    """Every parameter, in order (`*args` and `**kwargs` included)."""
    p = node.params
    found = [*p.posonly_params, *p.params]
    if isinstance(p.star_arg, cst.Param):
        found.append(p.star_arg)
    found.extend(p.kwonly_params)
    if p.star_kwarg is not None:
        found.append(p.star_kwarg)
    return found


NO_EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value, keyword=cst.Name(name), equal=NO_EQ)


# -- full-legacy store calls (PolicyStore) ---------------------------------------------------------------

# method -> positional parameters after the URI (PolicyStore signatures)
_AFTER_URI = {
    "policy_record": ("selector_type", "metric", "stats_client", "eval_name"),
    "policy_records": ("selector_type", "n", "metric", "stats_client", "eval_name"),
    "load_from_uri": (),
}
_URI_KEYWORDS = ("uri_or_config", "uri", "policy_uri")
SCHEMES = {
    "wandb://": "wandb:// URIs have no tinyckpt counterpart; download the artifact or point at a local checkpoint",
    "pytorch://": "pytorch:// URIs have no tinyckpt counterpart; load the file with torch.load",
}
# selector -> (tinyckpt function, wrap the result in a one-element list)
LIST_SELECTORS = {"all": ("list_checkpoints", False), "latest": ("latest_checkpoint", True)}


def uri_argument(call: cst.Call) -> cst.Arg | None:
    positional = [a for a in call.args if not a.keyword and not a.star]
    if positional:
        return positional[0]
    return next((a for a in call.args if a.keyword and a.keyword.value in _URI_KEYWORDS), None)


def selector(call: cst.Call, method: str) -> tuple[dict[str, cst.BaseExpression], str | None]:
    """The arguments after the URI by name, and the literal selector (None: not a literal)."""
    positional = [a for a in call.args if not a.keyword and not a.star][1:]
    given = dict(zip(_AFTER_URI[method], (a.value for a in positional)))
    given.update({a.keyword.value: a.value for a in call.args if a.keyword and a.keyword.value not in _URI_KEYWORDS})
    node = given.get("selector_type")
    return given, (literal_str(node) if node is not None else "top")


def decided_selector(call: cst.Call, method: str, decisions: Mapping[str, str]) -> str | None:
    """What a store call selects under the team's decisions: "all", "latest", or "branch" (a selector
    read at run time: every checkpoint when it is "all", else the latest); None when no decision covers it.
    TCK-M101 selector-by-metric = latest takes the latest for "top" / "rand" (by a metric, n= or stats-server
    scores); TCK-M114 selector-variable = branch covers a selector that is not a literal. Never when a
    dropped argument calls code (dropping it would drop a side effect)."""
    if not decisions or method not in ("policy_record", "policy_records"):
        return None
    given, sel = selector(call, method)
    if any(calls_code(given[k]) for k in ("n", "metric", "stats_client", "eval_name") if k in given):
        return None
    if sel is None:
        return "branch" if chosen(decisions, "selector-variable") == "branch" else None
    if chosen(decisions, "selector-by-metric") != "latest" or (method == "policy_record" and sel == "all"):
        return None
    return "all" if sel == "all" else "latest" if sel in ("top", "rand", "latest") else None


def producer_problem(call: cst.Call, method: str, decisions: Mapping[str, str] = {}) -> str | None:  # noqa: B006
    """Why a PolicyStore call has no tinyckpt counterpart (the manual reason), or None (also when a
    decision covers it: `decided_selector`)."""
    if any(a.star for a in call.args):
        return f"{method}(*args/**kwargs): decide which checkpoints this selects"
    uri = uri_argument(call)
    if uri is None:
        return f"{method}() without a URI: decide which checkpoint this means"
    text = leading_text(uri.value)
    for scheme, reason in SCHEMES.items():
        if text is not None and text.startswith(scheme):
            return reason
    if len([a for a in call.args if not a.keyword]) > 1 + len(_AFTER_URI[method]):
        return f"{method}: unexpected arguments"
    given, sel = selector(call, method)
    if method == "load_from_uri":
        return None if not given else "load_from_uri with extra arguments"
    if decided_selector(call, method, decisions):
        return None
    if "stats_client" in given or "eval_name" in given:
        return "stats-server scores have no tinyckpt counterpart; decide how to rank checkpoints"
    if sel is None:
        return f"selector {code(given['selector_type'], 60)} is not a literal; decide which checkpoints this selects"
    if sel == "top" and "metric" in given:
        return 'selector "top" by a metric has no tinyckpt counterpart; decide how to rank checkpoints'
    if sel == "top" and method == "policy_records":
        return 'selector "top" has no tinyckpt counterpart; decide how to rank checkpoints'
    if sel == "rand":
        return 'selector "rand" has no tinyckpt counterpart; decide which checkpoint to use'
    if "metric" in given:
        return f'metric= with selector "{sel}" has no tinyckpt counterpart; decide how to rank checkpoints'
    if "n" in given and not (sel == "latest" and isinstance(given["n"], cst.Integer) and given["n"].value == "1"):
        return f'n= with selector "{sel}" has no tinyckpt counterpart; decide how many checkpoints to take'
    if sel not in ("top", "latest", "all"):
        return f'selector "{sel}" is not a PolicyStore selector'
    if method == "policy_record" and sel == "all":
        return 'policy_record(..., selector_type="all") expects exactly one checkpoint; decide which one'
    return None


REMOTE = "wandb://"  # TCK-M107 remote-uri = not-implemented: a load of it raises NotImplementedError


def remote_uri(call: cst.Call) -> str | None:
    """The wandb:// URI text a store call loads (its literal start for an f-string), or None."""
    uri = uri_argument(call)
    if uri is None:
        return None
    text = leading_text(uri.value)
    return text if text is not None and text.startswith(REMOTE) else None


def leading_text(node: cst.BaseExpression) -> str | None:
    """The literal text a string expression starts with: a literal, an f-string's first text, the left of
    `+` or of an implicit concatenation, a `"...".format(...)` string ("" when it starts otherwise)."""
    if isinstance(node, cst.SimpleString):
        return literal_str(node)
    if isinstance(node, cst.FormattedString):
        first = node.parts[0] if node.parts else None
        return first.value if isinstance(first, cst.FormattedStringText) else ""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return leading_text(node.left)
    if isinstance(node, cst.ConcatenatedString):
        return leading_text(node.left)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format":
        return leading_text(node.func.value)
    return None


_CONDITIONAL = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.IfExp,
                cst.BooleanOperation, cst.FunctionDef, cst.ClassDef)


def raise_point(parents: Mapping[cst.CSTNode, cst.CSTNode], node: cst.CSTNode) -> cst.CSTNode | None:
    """The statement before which a `raise` runs exactly when `node` would be evaluated, with nothing of the
    statement skipped that would run before it: a simple statement line (one small statement, no assert),
    or the header of a for / if (not an elif) / while / with (one item) holding it, where `node` is the only
    call (or inside every call) of what runs first. None when `node` is evaluated only sometimes (in a lambda,
    a comprehension, a conditional expression, `and` / `or`, a chained comparison, an assert) or after other
    calls of its statement."""
    current: cst.CSTNode | None = node
    while current is not None and not isinstance(current, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        if isinstance(current, _CONDITIONAL) or isinstance(current, cst.Comparison) and len(current.comparisons) > 1:
            return None
        current = parents.get(current)
    header: cst.CSTNode | None = None
    if isinstance(current, cst.SimpleStatementLine) and len(current.body) == 1 and \
            not isinstance(current.body[0], cst.Assert):
        header = current.body[0]
    elif isinstance(current, cst.For):
        header = current.iter
    elif isinstance(current, cst.While) or isinstance(current, cst.If) and not isinstance(parents.get(current), cst.If):
        header = current.test
    elif isinstance(current, cst.With) and len(current.items) == 1:
        header = current.items[0].item
    if header is None or in_try(parents, current):  # (a handler could catch the legacy error, not the raise)
        return None
    ancestors: set[int] = set()
    walk: cst.CSTNode | None = node
    while walk is not None and walk is not current:
        ancestors.add(id(walk))
        walk = parents.get(walk)
    return current if all(id(c) in ancestors for c in nodes_of(header, cst.Call)) else None


def in_try(parents: Mapping[cst.CSTNode, cst.CSTNode], stmt: cst.CSTNode) -> bool:
    """Whether a statement is in the body of a `try` (in its function, or at module level)."""
    child, current = stmt, parents.get(stmt)
    while current is not None and not isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if isinstance(current, cst.Try) and current.body is child:
            return True
        child, current = current, parents.get(current)
    return False


def remote_decided(call: cst.Call, decisions: Mapping[str, str], parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """TCK-M107 remote-uri = not-implemented covers this store call: it loads a wandb:// URI, and a
    `raise` can stand before its statement (`raise_point`)."""
    return chosen(decisions, "remote-uri") == "not-implemented" and remote_uri(call) is not None and \
        raise_point(parents, call) is not None


def not_implemented(uri: str) -> cst.SimpleStatementLine:
    """`raise NotImplementedError(...)` for a load of a remote checkpoint (TCK-M107 = not-implemented)."""
    scheme = uri.split("://", 1)[0]
    message = f"tinyckpt loads local checkpoint files only: download {uri if uri != REMOTE else 'the ' + scheme + ':// checkpoint'} and pass its path"
    text = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return cst.SimpleStatementLine([cst.Raise(cst.Call(cst.Name("NotImplementedError"), [cst.Arg(cst.SimpleString(text))]))])


def store_replacement(call: cst.Call, method: str, decisions: Mapping[str, str] = {}) \
        -> tuple[cst.BaseExpression, tuple[str, ...]]:  # noqa: B006
    """The tinyckpt expression for a PolicyStore call that has a counterpart (or a decided one), and the
    names it imports."""
    uri = uri_argument(call)
    assert uri is not None
    arg = cst.Arg(uri.value)
    if method == "policy_records":
        given, sel = selector(call, method)
        sel = decided_selector(call, method, decisions) or sel
        if sel == "branch":  # (list_checkpoints(uri) if <selector> == "all" else [latest_checkpoint(uri)])
            left = given["selector_type"]
            if not isinstance(left, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)) and not left.lpar:
                left = left.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            test = cst.Comparison(left, [cst.ComparisonTarget(cst.Equal(), cst.SimpleString('"all"'))])
            return cst.IfExp(test, cst.Call(cst.Name("list_checkpoints"), [arg]),
                             cst.List([cst.Element(cst.Call(cst.Name("latest_checkpoint"), [arg]))]),
                             lpar=[cst.LeftParen()], rpar=[cst.RightParen()]), ("latest_checkpoint", "list_checkpoints")
        name, wrap = LIST_SELECTORS[sel or "all"]
        new: cst.BaseExpression = cst.Call(cst.Name(name), [arg])
        return (cst.List([cst.Element(new)]) if wrap else new), (name,)
    if method == "policy_record_or_mock":  # TCK-M105 = path-or-none: (latest_checkpoint(uri) if uri is not None else None)
        test = cst.Comparison(uri.value, [cst.ComparisonTarget(cst.IsNot(), cst.Name("None"))])
        return cst.IfExp(test, cst.Call(cst.Name("latest_checkpoint"), [arg]), cst.Name("None"),
                         lpar=[cst.LeftParen()], rpar=[cst.RightParen()]), ("latest_checkpoint",)
    return cst.Call(cst.Name("latest_checkpoint"), [arg]), ("latest_checkpoint",)


def or_mock_decided(call: cst.Call, decisions: Mapping[str, str]) -> bool:
    """TCK-M105 record-or-mock = path-or-none covers this policy_record_or_mock(uri[, run_name]) call: the
    URI is a name or an attribute chain (it is read twice), and nothing else is passed but a run name."""
    uri = uri_argument(call)
    rest = [a for a in call.args if a is not uri]
    return chosen(decisions, "record-or-mock") == "path-or-none" and uri is not None and \
        dotted(uri.value) is not None and not any(a.star for a in call.args) and \
        all(not calls_code(a.value) for a in rest) and len(rest) <= 1 and \
        all(a.keyword is None or a.keyword.value == "run_name" for a in rest)


# -- half-state store calls (SimplePolicyStore) ------------------------------------------------------------

HALF_RECORD_CALLS = frozenset({"policy_record", "policy_record_or_mock"})
MOCK = ("policy_record_or_mock returns a mock policy when the URI is None; "
        "decide what to play without a checkpoint")
HALF_SCHEME = "{}:// URIs have no tinyckpt counterpart; download the checkpoint or pass a local path"


def half_uri(call: cst.Call) -> cst.Arg | None:
    args = [a for a in call.args if a.keyword is None or a.keyword.value == "policy_uri"]
    return args[0] if args and not args[0].star and (args[0].keyword or call.args[0] is args[0]) else None


def half_record_problem(call: cst.Call, method: str) -> str | None:
    """Why `store.policy_record[_or_mock](...)` on a SimplePolicyStore cannot become a path (None: it can)."""
    uri = half_uri(call)
    if uri is None or any(a.star for a in call.args):
        return f"{method} without a URI argument; decide which checkpoint to load"
    literal = leading_text(uri.value)
    if isinstance(literal, str) and "://" in literal and not literal.startswith("file://"):
        return HALF_SCHEME.format(literal.partition("://")[0])
    if method == "policy_record_or_mock" and not isinstance(uri.value, (cst.SimpleString, cst.FormattedString)):
        return MOCK
    return None


def half_replacement(call: cst.Call) -> cst.Call:
    uri = half_uri(call)
    assert uri is not None
    return cst.Call(cst.Name("latest_checkpoint"), [uri.with_changes(
        keyword=None, equal=cst.MaybeSentinel.DEFAULT, comma=cst.MaybeSentinel.DEFAULT)])


# -- SimpleCheckpointManager(run_dir, run_name) -> TinyCheckpointManager(run_name, base_dir=<parent>) ---------

NEW_MANAGER = "TinyCheckpointManager"
DEFAULT_ROOTS = {"./train_dir", "train_dir", "./train_dir/", "train_dir/"}  # TinyCheckpointManager's default base_dir
RUN_DIR_REASON = ("run_dir is not visibly <base_dir>/<run_name>; choose base_dir (TinyCheckpointManager's "
                  "base_dir is the parent of the run directory)")


def manager_construction(call: cst.Call, joins: Callable[[cst.BaseExpression], bool]) -> cst.Call | str:
    """The TinyCheckpointManager call for a SimpleCheckpointManager(...) call, or why not. `joins(func)`
    says whether a call's function is os.path.join (by qualified name)."""
    found: dict[str, cst.BaseExpression] = {}
    for position, arg in enumerate(call.args):
        if arg.star:
            return "SimpleCheckpointManager(*args/**kwargs): decide run_name and base_dir"
        key = arg.keyword.value if arg.keyword else ("run_dir", "run_name")[position] if position < 2 else "?"
        found[key] = arg.value
    run_dir, run_name = found.get("run_dir"), found.get("run_name")
    if run_dir is None or run_name is None or set(found) - {"run_dir", "run_name"}:
        return "unexpected SimpleCheckpointManager arguments; decide run_name and base_dir"
    base = _parent(run_dir, run_name, joins)
    if base is None:
        return RUN_DIR_REASON
    args = [cst.Arg(run_name)]
    if not (isinstance(base, cst.SimpleString) and base.evaluated_value in DEFAULT_ROOTS):
        args = [cst.Arg(run_name, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                keyword("base_dir", base)]
    return cst.Call(cst.Name(NEW_MANAGER), args)


def _parent(run_dir: cst.BaseExpression, run_name: cst.BaseExpression,
            joins: Callable[[cst.BaseExpression], bool]) -> cst.BaseExpression | None:
    """`X` when run_dir is visibly `X/<run_name>` (os.path.join, f-string, `/`, str(...), literal)."""
    same = code(run_name)
    if isinstance(run_dir, cst.Call) and joins(run_dir.func):
        parts = run_dir.args
        if len(parts) >= 2 and not any(a.star or a.keyword for a in parts) and code(parts[-1].value) == same:
            if len(parts) == 2:
                return parts[0].value
            return run_dir.with_changes(args=[*parts[:-2], parts[-2].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
    if isinstance(run_dir, cst.Call) and isinstance(run_dir.func, cst.Name) and run_dir.func.value == "str" \
            and len(run_dir.args) == 1:
        return _parent(run_dir.args[0].value, run_name, joins)
    if isinstance(run_dir, cst.BinaryOperation) and isinstance(run_dir.operator, cst.Divide):
        return run_dir.left if code(run_dir.right) == same else None
    if isinstance(run_dir, cst.FormattedString) and len(run_dir.parts) >= 2:
        last, before = run_dir.parts[-1], run_dir.parts[-2]
        if (isinstance(last, cst.FormattedStringExpression) and last.conversion is None
                and last.format_spec is None and code(last.expression) == same
                and isinstance(before, cst.FormattedStringText) and before.value.endswith("/")):
            prefix = [*run_dir.parts[:-2], before.with_changes(value=before.value[:-1])]
            prefix = [p for p in prefix if not (isinstance(p, cst.FormattedStringText) and not p.value)]
            if len(prefix) == 1 and isinstance(prefix[0], cst.FormattedStringText):
                return cst.SimpleString(repr(prefix[0].value))
            if len(prefix) == 1 and isinstance(prefix[0], cst.FormattedStringExpression) \
                    and prefix[0].conversion is None and prefix[0].format_spec is None:
                return prefix[0].expression
            return run_dir.with_changes(parts=prefix) if prefix else None
    if isinstance(run_dir, cst.SimpleString) and isinstance(run_name, cst.SimpleString):
        path, name = run_dir.evaluated_value, run_name.evaluated_value
        if isinstance(path, str) and isinstance(name, str) and path.endswith("/" + name):
            return cst.SimpleString(repr(path[: -len(name) - 1]))
    return None


# -- the trainer's save pair (full legacy) ----------------------------------------------------------------

SAVE_PAIR = ("pr = PolicyRecord(store, RUN, uri, PolicyMetadata(epoch=E, ...))", "pr.policy = AGENT", "store.save(pr)",
             "TrainerCheckpoint(**fields).save(os.path.join(BASE, RUN))")


def _call_args(call: cst.Call, names: Sequence[str]) -> dict[str, cst.BaseExpression] | None:
    if any(a.star for a in call.args):
        return None
    out = {name: a.value for name, a in zip(names, (a for a in call.args if not a.keyword))}
    out.update({a.keyword.value: a.value for a in call.args if a.keyword})
    return out if set(out) <= set(names) else None


def _join(node: cst.BaseExpression | None) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """os.path.join(BASE, RUN) -> (BASE, RUN)."""
    if isinstance(node, cst.Call) and code(node.func) == "os.path.join" and len(node.args) == 2 and \
            not any(a.keyword or a.star for a in node.args):
        return node.args[0].value, node.args[1].value
    return None


def run_and_base(expr: cst.BaseExpression, assigned: Callable[[str], list[cst.BaseExpression]]) \
        -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """(RUN, BASE) of a run directory: os.path.join(BASE, RUN) itself, or a name the enclosing function
    assigns it exactly once (`assigned(name)` lists the values a name is assigned there)."""
    found = _join(expr)
    if not found and isinstance(expr, cst.Name):
        values = assigned(expr.value)
        found = _join(values[0]) if len(values) == 1 else None
    return (found[1], found[0]) if found and unchanged(assigned, *found) else None


def match_save_pair(stmts: Sequence[cst.BaseStatement], i: int, legacy: Callable[[cst.CSTNode], str | None],
                    assigned: Callable[[str], list[cst.BaseExpression]],
                    dropped_fields: Sequence[str]) -> tuple[cst.Call, list[str], list[str]] | None:
    """The save_checkpoint call replacing stmts[i:i+4], the dropped metadata, and the TrainerCheckpoint
    fields written; or None."""
    if i + 4 > len(stmts) or not all(isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 for s in stmts[i:i + 4]):
        return None
    s1, s2, s3, s4 = (s.body[0] for s in stmts[i:i + 4])  # type: ignore[union-attr]
    if not (isinstance(s1, cst.Assign) and len(s1.targets) == 1 and isinstance(s1.targets[0].target, cst.Name)
            and isinstance(s1.value, cst.Call) and legacy(s1.value.func) == "PolicyRecord"):
        return None
    pr = s1.targets[0].target.value
    rec = _call_args(s1.value, ("policy_store", "run_name", "uri", "metadata"))
    meta = rec.get("metadata") if rec else None
    if not (rec and "run_name" in rec and isinstance(meta, cst.Call) and legacy(meta.func) == "PolicyMetadata"):
        return None
    meta_args = _call_args(meta, tuple(a.keyword.value for a in meta.args if a.keyword))
    if not meta_args or "epoch" not in meta_args or any(not a.keyword for a in meta.args):
        return None
    if not (isinstance(s2, cst.Assign) and code(s2.targets[0].target) == f"{pr}.policy" and len(s2.targets) == 1):
        return None
    store = rec.get("policy_store")
    if not (isinstance(s3, cst.Expr) and isinstance(s3.value, cst.Call) and store is not None
            and code(s3.value.func) == f"{code(store)}.save" and len(s3.value.args) == 1
            and code(s3.value.args[0].value) == pr):
        return None
    if not (isinstance(s4, cst.Expr) and isinstance(s4.value, cst.Call) and isinstance(s4.value.func, cst.Attribute)
            and s4.value.func.attr.value == "save" and isinstance(s4.value.func.value, cst.Call)
            and legacy(s4.value.func.value.func) == "TrainerCheckpoint" and len(s4.value.args) == 1):
        return None
    ckpt = s4.value.func.value
    fields = _call_args(ckpt, tuple(a.keyword.value for a in ckpt.args if a.keyword))
    located = run_and_base(s4.value.args[0].value, assigned)
    if not fields or any(not a.keyword for a in ckpt.args) or located is None or \
            code(located[0]) != code(rec["run_name"]):
        return None
    epoch = meta_args["epoch"]
    if "epoch" in fields and code(fields["epoch"]) != code(epoch):
        return None
    if "policy_path" in fields and code(fields["policy_path"]) not in (f"{pr}.uri", f"{pr}.file_path"):
        return None
    state = cst.Dict([cst.DictElement(cst.SimpleString(f'"{k}"'), v) for k, v in fields.items() if k not in dropped_fields])
    dropped = sorted(set(meta_args) - {"epoch"} - set(fields))
    call = cst.Call(cst.Name("save_checkpoint"), [
        cst.Arg(s2.value), cst.Arg(rec["run_name"]), cst.Arg(epoch), cst.Arg(state), keyword("base_dir", located[1])])
    return call, dropped, sorted(fields)


_UNWRAP = frozenset({"os.path.abspath", "os.path.realpath", "os.path.normpath", "os.fspath", "str"})


def _base_of(uri: cst.BaseExpression, run: cst.BaseExpression,
             assigned: Callable[[str], list[cst.BaseExpression]]) \
        -> tuple[cst.BaseExpression, cst.BaseExpression, bool] | None:
    """(BASE, FILE, in its checkpoints directory) of a record URI shaped `[file://]<BASE>/<RUN>/[checkpoints/]<FILE>`:
    os.path.join(BASE, RUN, ["checkpoints",] FILE) (under abspath / str / an f"file://{...}", or in a name the
    function assigns exactly once); None otherwise."""
    if isinstance(uri, cst.FormattedString) and len(uri.parts) == 2 and \
            isinstance(uri.parts[0], cst.FormattedStringText) and uri.parts[0].value == "file://" and \
            isinstance(uri.parts[1], cst.FormattedStringExpression) and uri.parts[1].conversion is None and \
            uri.parts[1].format_spec is None:
        uri = uri.parts[1].expression
    if isinstance(uri, cst.Name):
        values = assigned(uri.value)
        if len(values) != 1 or values[0] is uri or isinstance(values[0], cst.Name) and values[0].value == uri.value:
            return None  # (a parameter, or bound more than once)
        uri = values[0]
    while isinstance(uri, cst.Call) and code(uri.func) in _UNWRAP and len(uri.args) == 1 and not uri.args[0].keyword:
        uri = uri.args[0].value
    if isinstance(uri, cst.Call) and code(uri.func) == "os.path.join" and len(uri.args) in (3, 4) and \
            not any(a.keyword or a.star for a in uri.args) and code(uri.args[1].value) == code(run) and \
            not calls_code(uri.args[-1].value) and (len(uri.args) == 3 or literal_str(uri.args[2].value) == "checkpoints") \
            and unchanged(assigned, uri.args[0].value, run):
        return uri.args[0].value, uri.args[-1].value, len(uri.args) == 4
    return None


def never_agent_file(name: cst.BaseExpression) -> bool:
    """A file name that visibly never is a tinyckpt agent checkpoint's (`agent_epoch_<N>.pt`): a literal, or an
    f-string whose literal start, that is not a start of "agent_epoch_"."""
    text = literal_str(name)
    if isinstance(name, cst.FormattedString):
        first = name.parts[0] if name.parts else None
        text = first.value if isinstance(first, cst.FormattedStringText) else None
    return bool(text) and not ("agent_epoch_".startswith(text) or text.startswith("agent_epoch_"))  # type: ignore[union-attr]


def match_hand_save(stmts: Sequence[cst.BaseStatement], i: int, legacy: Callable[[cst.CSTNode], str | None],
                    assigned: Callable[[str], list[cst.BaseExpression]]) \
        -> tuple[cst.Call, cst.Call, list[str], bool] | None:
    """A record built by hand and saved, stmts[i:i+3] (TCK-M103 record-built-by-hand = save-checkpoint):

        pr = PolicyRecord(store, RUN, URI, {"epoch": E, ...})   # or PolicyMetadata(epoch=E, ...)
        pr.policy = AGENT
        store.save(pr)

    where URI is `[file://]<BASE>/<RUN>/[checkpoints/]<file>` (see `_base_of`) and nothing dropped calls code. Returns the
    record's constructor call, the `save_checkpoint(AGENT, RUN, E, base_dir=BASE)` call that replaces the
    three statements, the metadata keys it drops, and whether its file is private: outside the run's
    checkpoints directory and never named like an agent checkpoint (`never_agent_file`); or None."""
    if i + 3 > len(stmts) or not all(isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 for s in stmts[i:i + 3]):
        return None
    s1, s2, s3 = (s.body[0] for s in stmts[i:i + 3])  # type: ignore[union-attr]
    if not (isinstance(s1, cst.Assign) and len(s1.targets) == 1 and isinstance(s1.targets[0].target, cst.Name)
            and isinstance(s1.value, cst.Call) and legacy(s1.value.func) == "PolicyRecord"):
        return None
    pr = s1.targets[0].target.value
    rec = _call_args(s1.value, ("policy_store", "run_name", "uri", "metadata"))
    if not rec or not {"policy_store", "run_name", "uri", "metadata"} <= set(rec):
        return None
    meta, meta_args = rec["metadata"], None
    if isinstance(meta, cst.Call) and legacy(meta.func) == "PolicyMetadata" and all(a.keyword for a in meta.args):
        meta_args = _call_args(meta, tuple(a.keyword.value for a in meta.args if a.keyword))
    elif isinstance(meta, cst.Dict) and all(isinstance(e, cst.DictElement) and literal_str(e.key) for e in meta.elements):
        meta_args = {literal_str(e.key): e.value for e in meta.elements}  # type: ignore[union-attr,misc]
    if not meta_args or "epoch" not in meta_args or any(calls_code(v) for v in meta_args.values()):
        return None
    if not (isinstance(s2, cst.Assign) and len(s2.targets) == 1 and code(s2.targets[0].target) == f"{pr}.policy"):
        return None
    store = rec["policy_store"]
    if not (isinstance(s3, cst.Expr) and isinstance(s3.value, cst.Call) and code(s3.value.func) == f"{code(store)}.save"
            and len(s3.value.args) == 1 and not s3.value.args[0].keyword and code(s3.value.args[0].value) == pr):
        return None
    found = _base_of(rec["uri"], rec["run_name"], assigned)
    if found is None:
        return None
    call = cst.Call(cst.Name("save_checkpoint"), [cst.Arg(s2.value), cst.Arg(rec["run_name"]), cst.Arg(meta_args["epoch"]),
                                                  keyword("base_dir", found[0])])
    return s1.value, call, sorted(k for k in meta_args if k != "epoch"), not found[2] and never_agent_file(found[1])


def assigned_in(function: cst.CSTNode | None, name: str, module: cst.Module | None = None) -> list[cst.BaseExpression]:
    """The values a function assigns to `name`: plain `name = value` statements, and (given its `module`)
    `name, other = helper(cfg)` where `helper` is a function of the module that returns a tuple whose
    element there is a name it assigns once, from its own parameters passed under the same names
    (`run_dir = os.path.join(cfg.data_dir, cfg.run_name)`; `return run_dir, checkpoint_dir`). Any other
    unpacking counts as a value too (the helper call itself): a name assigned twice is never one value."""
    values: list[cst.BaseExpression] = []
    unpacked: list[tuple[int, cst.Call]] = []
    if function is None:
        return values
    if isinstance(function, cst.FunctionDef):  # a parameter is a binding too (its value comes from callers)
        params = function.params
        values += [p.name for p in (*params.posonly_params, *params.params, *params.kwonly_params) if p.name.value == name]
        values += [p.name for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param) and p.name.value == name]

    def other(target: cst.BaseExpression) -> None:  # any other binding of the name: a value nobody can name
        if any(n.value == name for n in _target_names(target)):
            values.append(target)

    class _Assigns(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    values.append(node.value)
                elif isinstance(t.target, cst.Tuple) and isinstance(node.value, cst.Call) and \
                        all(isinstance(e.value, cst.Name) for e in t.target.elements):
                    unpacked.extend((i, node.value) for i, e in enumerate(t.target.elements)
                                    if isinstance(e.value, cst.Name) and e.value.value == name)
                else:
                    other(t.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if node.value is not None and isinstance(node.target, cst.Name) and node.target.value == name:
                values.append(node.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            other(node.target)

        def visit_For(self, node: cst.For) -> None:
            other(node.target)

        def visit_WithItem(self, node: cst.WithItem) -> None:
            if node.asname is not None:
                other(node.asname.name)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            other(node.target)

        def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
            if node.name is not None:
                other(node.name.name)

        def visit_Global(self, node: cst.Global) -> None:
            if any(n.name.value == name for n in node.names):
                values.extend([node, node])  # (bound elsewhere: never one known value)

        def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
            if any(n.name.value == name for n in node.names):
                values.extend([node, node])
    function.visit(_Assigns())
    for i, call in unpacked:
        value = _helper_value(module, call, i) if module is not None else None
        values.append(call if value is None else value)
    return values


def _helper_value(module: cst.Module, call: cst.Call, index: int) -> cst.BaseExpression | None:
    """Element `index` of what `helper(args)` returns, as the caller can write it (see `assigned_in`)."""
    helper = next((s for s in module.body if isinstance(s, cst.FunctionDef) and isinstance(call.func, cst.Name)
                   and s.name.value == call.func.value), None)
    if helper is None or any(a.keyword or a.star for a in call.args):
        return None
    params = [p.name.value for p in helper.params.params]
    if [code(a.value) for a in call.args] != params or helper.params.posonly_params or helper.params.kwonly_params:
        return None  # each parameter passed as the caller's own name of the same spelling
    returns: list[cst.Return] = []

    class _Returns(cst.CSTVisitor):
        def visit_Return(self, node: cst.Return) -> None:
            returns.append(node)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is helper
    helper.visit(_Returns())
    if len(returns) != 1 or not isinstance(returns[0].value, cst.Tuple) or index >= len(returns[0].value.elements):
        return None
    element = returns[0].value.elements[index].value
    found = [v for v in assigned_in(helper, element.value)] if isinstance(element, cst.Name) else []
    if len(found) != 1 or not unchanged(lambda n: assigned_in(helper, n), found[0]):
        return None  # (its parameters keep the caller's values: none is assigned again in the helper)
    return found[0] if {n.value for n in read_names(found[0])} <= set(params) | {"os"} else None


def _target_names(target: cst.CSTNode) -> list[cst.Name]:
    """The names an assignment target binds (`a`, `a, (b, *c)`; not `x.a` or `x[a]`)."""
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def unchanged(names: Callable[[str], list[cst.BaseExpression]], *exprs: cst.BaseExpression) -> bool:
    """Every name these expressions read is bound at most once in the function (`names` lists the bindings):
    where they are used, they still hold the one value they were given."""
    return all(len(names(n.value)) <= 1 for e in exprs for n in read_names(e))


def nodes_of(root: cst.CSTNode, kind: type | tuple[type, ...]) -> list[Any]:
    """Every node of `kind` in the subtree of `root` (itself included), in source order."""
    found: list[Any] = []

    class _Find(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, kind):
                found.append(node)
            return True
    root.visit(_Find())
    return found


def read_names(node: cst.CSTNode, skip: Sequence[cst.CSTNode] = ()) -> list[cst.Name]:
    """The names an expression or statement reads (an attribute's own name left out), outside the `skip`
    subtrees."""
    found: list[cst.Name] = []

    class _Find(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            if any(n is s for s in skip):
                return False
            if isinstance(n, cst.Attribute):
                n.value.visit(self)
                return False
            if isinstance(n, cst.Name):
                found.append(n)
            return True
    node.visit(_Find())
    return found
