"""run_dir -> base_dir, for the checkpoint_manager rule: TinyCheckpointManager's base_dir is the PARENT of
SimpleCheckpointManager's run_dir (copying the argument across puts checkpoints in <root>/<run>/<run>/)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from codemods.rules._legacy_types import TypedRule, code

NEW = "TinyCheckpointManager"
DEFAULT_ROOTS = {"./train_dir", "train_dir", "./train_dir/", "train_dir/"}  # TinyCheckpointManager's default base_dir


def construction(rule: TypedRule, call: cst.Call) -> cst.Call | str:
    """The TinyCheckpointManager call for a SimpleCheckpointManager(...) call, or why not."""
    found: dict[str, cst.BaseExpression] = {}
    for position, arg in enumerate(call.args):
        if arg.star:
            return "SimpleCheckpointManager(*args/**kwargs): decide run_name and base_dir"
        key = arg.keyword.value if arg.keyword else ("run_dir", "run_name")[position] if position < 2 else "?"
        found[key] = arg.value
    run_dir, run_name = found.get("run_dir"), found.get("run_name")
    if run_dir is None or run_name is None or set(found) - {"run_dir", "run_name"}:
        return "unexpected SimpleCheckpointManager arguments; decide run_name and base_dir"
    base = _parent(rule, run_dir, run_name)
    if base is None:
        return ("run_dir is not visibly <base_dir>/<run_name>; choose base_dir (TinyCheckpointManager's "
                "base_dir is the parent of the run directory)")
    args = [cst.Arg(run_name)]
    if not (isinstance(base, cst.SimpleString) and base.evaluated_value in DEFAULT_ROOTS):
        args = [cst.Arg(run_name, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                cst.Arg(base, keyword=cst.Name("base_dir"), equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))]
    return cst.Call(cst.Name(NEW), args)



def _parent(rule: TypedRule, run_dir: cst.BaseExpression, run_name: cst.BaseExpression) -> cst.BaseExpression | None:
    """`X` when run_dir is visibly `X/<run_name>` (os.path.join, f-string, `/`, str(...), literal)."""
    same = code(run_name)
    if isinstance(run_dir, cst.Call) and rule.qualified_names(run_dir.func) & {"os.path.join", "posixpath.join"}:
        parts = run_dir.args
        if len(parts) >= 2 and not any(a.star or a.keyword for a in parts) and code(parts[-1].value) == same:
            if len(parts) == 2:
                return parts[0].value
            return run_dir.with_changes(args=[*parts[:-2], parts[-2].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
    if isinstance(run_dir, cst.Call) and m.matches(run_dir.func, m.Name("str")) and len(run_dir.args) == 1:
        return _parent(rule, run_dir.args[0].value, run_name)
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
