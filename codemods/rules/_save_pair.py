"""The trainer's save pair (record + store.save + TrainerCheckpoint.save) and run-directory shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst

from codemods.legacy import TRAINER_CHECKPOINT_DROPPED
from codemods.rules._base import NoFieldVisits

# the save pair (consecutive statements) -> one call; TrainerCheckpoint fields -> trainer-state keys
SAVE_PAIR = ("pr = PolicyRecord(store, RUN, uri, PolicyMetadata(epoch=E, ...))", "pr.policy = AGENT", "store.save(pr)",
             "TrainerCheckpoint(**fields).save(os.path.join(BASE, RUN))")
NEW_SAVE = "save_checkpoint(AGENT, RUN, E, {fields but epoch and policy_path}, base_dir=BASE)"

DROPPED_FIELDS = TRAINER_CHECKPOINT_DROPPED  # tinyckpt adds "epoch"; the path is the agent file itself

NO_EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _call_args(call: cst.Call, names: Sequence[str]) -> dict[str, cst.BaseExpression] | None:
    if any(a.star for a in call.args):
        return None
    out = {name: a.value for name, a in zip(names, (a for a in call.args if not a.keyword))}
    out.update({a.keyword.value: a.value for a in call.args if a.keyword})
    return out if set(out) <= set(names) else None


def _join(node: cst.BaseExpression | None) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """os.path.join(BASE, RUN) -> (BASE, RUN)."""
    if isinstance(node, cst.Call) and _code(node.func) == "os.path.join" and len(node.args) == 2 and \
            not any(a.keyword or a.star for a in node.args):
        return node.args[0].value, node.args[1].value
    return None


def run_and_base(expr: cst.BaseExpression, function: cst.CSTNode | None) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """(RUN, BASE) of a run directory: os.path.join(BASE, RUN) itself, or a name assigned it exactly once."""
    found = _join(expr)
    if found or not isinstance(expr, cst.Name) or function is None:
        return (found[1], found[0]) if found else None
    values: list[cst.BaseExpression] = []

    class _Assigns(NoFieldVisits, cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if isinstance(t.target, cst.Name) and t.target.value == expr.value:
                    values.append(node.value)
    function.visit(_Assigns())
    found = _join(values[0]) if len(values) == 1 else None
    return (found[1], found[0]) if found else None


def match_save_pair(stmts: Sequence[cst.BaseStatement], i: int, legacy: Callable[[cst.CSTNode], str | None],
                    function: cst.CSTNode | None) -> tuple[cst.Call, list[str]] | None:
    """The save_checkpoint call replacing stmts[i:i+4] (and the dropped metadata), or None."""
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
    if not (isinstance(s2, cst.Assign) and _code(s2.targets[0].target) == f"{pr}.policy" and len(s2.targets) == 1):
        return None
    store = rec.get("policy_store")
    if not (isinstance(s3, cst.Expr) and isinstance(s3.value, cst.Call) and store is not None
            and _code(s3.value.func) == f"{_code(store)}.save" and len(s3.value.args) == 1
            and _code(s3.value.args[0].value) == pr):
        return None
    if not (isinstance(s4, cst.Expr) and isinstance(s4.value, cst.Call) and isinstance(s4.value.func, cst.Attribute)
            and s4.value.func.attr.value == "save" and isinstance(s4.value.func.value, cst.Call)
            and legacy(s4.value.func.value.func) == "TrainerCheckpoint" and len(s4.value.args) == 1):
        return None
    ckpt = s4.value.func.value
    fields = _call_args(ckpt, tuple(a.keyword.value for a in ckpt.args if a.keyword))
    located = run_and_base(s4.value.args[0].value, function)
    if not fields or any(not a.keyword for a in ckpt.args) or located is None or \
            _code(located[0]) != _code(rec["run_name"]):
        return None
    epoch = meta_args["epoch"]
    if "epoch" in fields and _code(fields["epoch"]) != _code(epoch):
        return None
    if "policy_path" in fields and _code(fields["policy_path"]) not in (f"{pr}.uri", f"{pr}.file_path"):
        return None
    state = cst.Dict([cst.DictElement(cst.SimpleString(f'"{k}"'), v) for k, v in fields.items() if k not in DROPPED_FIELDS])
    dropped = sorted(set(meta_args) - {"epoch"} - set(fields))
    call = cst.Call(cst.Name("save_checkpoint"), [
        cst.Arg(s2.value), cst.Arg(rec["run_name"]), cst.Arg(epoch), cst.Arg(state),
        cst.Arg(located[1], keyword=cst.Name("base_dir"), equal=NO_EQ)])
    return call, dropped


def save_pairs(module: cst.Module, legacy: Callable[[cst.CSTNode], str | None]) -> list[cst.CSTNode]:
    """Every statement of every save pair in the module (for the value graph to leave alone)."""
    found: list[cst.CSTNode] = []

    class _Blocks(NoFieldVisits, cst.CSTVisitor):
        def __init__(self) -> None:
            self.functions: list[cst.FunctionDef] = []

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.functions.append(node)

        def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.functions.pop()

        def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
            body = list(node.body)
            for i in range(len(body)):
                if match_save_pair(body, i, legacy, self.functions[-1] if self.functions else None):
                    found.extend(body[i:i + 4])
    module.visit(_Blocks())
    return found
