"""PolicyMetadata(...) -> a plain dict with the legacy constructor's defaults:
`PolicyMetadata(epoch=e)` -> `dict({"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}, epoch=e)`.

The defaults are read from the codebase's own legacy class when its module is in the tree (else the
documented four fields); positional arguments become keywords; `from_dict(d)` builds the same way
(`cls(**d)`). A metadata value whose attributes are read (a dict has no attribute access), or that goes
into a record, store, manager or function that stays legacy, is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import libcst as cst

from codemods.analysis import Analysis
from codemods.analysis.shapes import code, keyword
from codemods.edits import Edit
from codemods.rules._rule import Rule, held_back

OLD, NEW = "PolicyMetadata", "dict"
DICT_METHODS = frozenset(dir(dict))
MANUAL_REASON = "PolicyMetadata{what}: a dict has no attribute access; decide what replaces it"
SECTION = "metadata_defaults"  # index section: the legacy class's (parameters, default sources, from_dict kind)
#: PolicyMetadata(agent_step=0, epoch=0, generation=0, train_time=0.0, **extra), as legacy-api.md documents it
DOCUMENTED = (("agent_step", "0"), ("epoch", "0"), ("generation", "0"), ("train_time", "0.0"))
_LITERALS = (cst.Integer, cst.Float, cst.SimpleString)


class PolicyMetadata(Rule):
    NAME = "policy_metadata"
    DESCRIPTION = ("PolicyMetadata(k=v, **kw) -> dict({<the legacy defaults>}, k=v, **kw) (positional arguments by "
                   "name) and PolicyMetadata.from_dict(d) -> dict({<defaults>}, **d); left as it is while the value "
                   "goes into a record, store, manager or function that stays legacy; manual when attributes of the "
                   "result are read (a dict has no attribute access).")

    @classmethod
    def facts(cls, a: Analysis) -> dict[str, list[Any]]:
        """The legacy class's constructor (its parameters and literal defaults) and `from_dict`, from the legacy
        module that defines it."""
        if not a.module or not a.names.is_legacy_module(a.module):
            return {}
        for stmt in a.tree.body:
            if isinstance(stmt, cst.ClassDef) and a.names.legacy_class(f"{a.module}.{stmt.name.value}") == OLD:
                return {SECTION: [_signature(stmt)]}
        return {}

    def plan(self, a: Analysis) -> Iterable[Edit]:
        known = a.index.get(SECTION, ())
        spec = known[0] if known else (DOCUMENTED, True, "spread")
        s = a.solution
        for call in a.walk.metadata_calls:
            attr = _attribute_read(a, call)
            if attr:
                yield self.manual(call, MANUAL_REASON.format(what=f" then .{attr}"))
                continue
            key = a.walk.site(call, "meta")
            if s.is_legacy(key) and not s.migrates(key):
                continue  # held back: the record, store or manager it goes into says why
            new = _replacement(call, spec)
            if isinstance(new, str):
                yield self.manual(call, new)
            else:
                yield self.replace(call, f"{OLD}(...) -> {NEW}({{<defaults>}}, ...)", new)
        for node, reason, _, holds in held_back(a, self.NAME, "meta"):
            yield self.manual(node, f"a PolicyMetadata {reason}; it stays a PolicyMetadata{holds}")


def _signature(cls: cst.ClassDef) -> tuple[tuple[tuple[str, str | None], ...], bool, str]:
    """((parameter, default source or None when computed), ...), takes **extra, from_dict kind."""
    params: list[tuple[str, str | None]] = []
    extra, from_dict = False, "custom"
    for stmt in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__init__":
            for param in [*stmt.params.params[1:], *stmt.params.kwonly_params]:
                default = param.default
                literal = isinstance(default, _LITERALS) or (isinstance(default, cst.Name) and default.value in
                                                             ("None", "True", "False")) or \
                    (isinstance(default, cst.UnaryOperation) and isinstance(default.expression, (cst.Integer, cst.Float)))
                params.append((param.name.value, code(default) if default is not None and literal else None))
            extra = stmt.params.star_kwarg is not None
        elif isinstance(stmt, cst.FunctionDef) and stmt.name.value == "from_dict":
            body = stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else ()
            body = [s for s in body if not (isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Expr))]
            first = body[0].body[0] if len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) else None
            value = first.value if isinstance(first, cst.Return) else None
            if isinstance(value, cst.Call) and len(value.args) == 1 and value.args[0].star == "**" and \
                    isinstance(value.func, cst.Name) and value.func.value in ("cls", cls.name.value):
                from_dict = "spread"
    return tuple(params), extra, from_dict


def _replacement(call: cst.Call, spec: Any) -> Any:
    """The build of `dict({<defaults>}, ...)` for a metadata call, or why not."""
    params, _, from_dict = spec
    computed = [name for name, default in params if default is None]
    defaults = [(name, default) for name, default in params if default is not None]
    if computed:
        return f"PolicyMetadata's default for {', '.join(computed)} is computed; decide what the dict starts with"
    literal = cst.parse_expression("{" + ", ".join(f'"{name}": {default}' for name, default in defaults) + "}")
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "from_dict":  # from_dict(d)
        if from_dict != "spread" or len(call.args) != 1 or call.args[0].keyword or call.args[0].star:
            return "PolicyMetadata.from_dict: decide how the dict is built"
        return lambda u: u.with_changes(func=cst.Name(NEW), args=[
            cst.Arg(literal, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            u.args[0].with_changes(star="**")])
    if any(arg.star == "*" for arg in call.args):
        return "PolicyMetadata(*args): decide the keys by hand"
    positional = [arg for arg in call.args if not arg.keyword and not arg.star]
    if len(positional) > len(params):
        return "PolicyMetadata with more positional arguments than its parameters; decide"
    names = [name for name, _ in params]

    def build(u: Any) -> Any:
        args = list(u.args)
        out = [cst.Arg(literal)]
        for i, arg in enumerate(args):
            new = keyword(names[i], arg.value) if not arg.keyword and not arg.star else arg
            out.append(new.with_changes(comma=arg.comma))
        out[0] = out[0].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) if len(out) > 1 \
            else out[0]
        return u.with_changes(func=cst.Name(NEW), args=out)
    return build


def _attribute_read(a: Analysis, call: cst.Call) -> str | None:
    """An attribute read on the result, directly or through the one name it is assigned to."""
    parent = a.parent(call)
    if isinstance(parent, cst.Attribute) and parent.value is call:
        return parent.attr.value
    if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name)):
        return None
    target = parent.targets[0].target
    scope = a.scopes.get(target)
    if scope is None:
        return None
    for access in scope.accesses[target.value]:
        used = a.parent(access.node)
        if isinstance(used, cst.Attribute) and used.value is access.node and used.attr.value not in DICT_METHODS:
            return used.attr.value
    return None
