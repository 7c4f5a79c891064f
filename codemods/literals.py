"""Constant data kept out of LibCST: parse only what can matter.

A big module is usually big because of data: module-level tables of numbers and strings (generated
lookup tables, vocabularies, protobuf descriptors). Nothing legacy can live in such a literal, yet
LibCST's tree of it costs about 350 bytes of memory per byte of source. `shrink` replaces each large
module-level constant literal by a one-element stand-in of the same bracket kind and the same number
of lines (so every line number stays what it was), and `restore` puts the original text back into the
migrated text. The names the statements bind stay, so scopes see the same module.
"""

from __future__ import annotations

import ast
import re
import secrets

#: Only modules and literals this big are shrunk (the rules never see a difference: see the module docstring).
MIN_MODULE = 256 * 1024
MIN_LITERAL = 256
_BRACKETS = {"{": "}", "[": "]", "(": ")"}


def _constant(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_constant(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _constant(k) and _constant(v) for k, v in zip(node.keys, node.values))
    return False


def _offsets(source: str) -> list[int]:
    """Character offset of the start of each line as Python counts lines (1-based: index 1 is line 1)."""
    return [0, 0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", source))]


def _char(source: str, starts: list[int], line: int, byte_col: int) -> int:
    text = source[starts[line]:starts[line + 1] if line + 1 < len(starts) else len(source)]
    return starts[line] + len(text.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def shrink(source: str) -> tuple[str, dict[str, str]]:
    """(the source with its big constant literals replaced, stand-in -> original text). Sources that are
    small, or do not parse with `ast`, come back as they are."""
    if len(source) < MIN_MODULE:
        return source, {}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source, {}
    starts = _offsets(source)
    token = secrets.token_hex(6)
    pieces: list[tuple[int, int, str, str]] = []
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
        if value is None or value.end_lineno is None or value.end_col_offset is None or not _constant(value) \
                or any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        begin = _char(source, starts, value.lineno, value.col_offset)
        end = _char(source, starts, value.end_lineno, value.end_col_offset)
        text = source[begin:end]
        if len(text) < MIN_LITERAL or text[0] not in _BRACKETS or _BRACKETS[text[0]] != text[-1] or token in text:
            continue
        key = f'"tinyckpt-data-{token}-{len(pieces)}"'
        inner = f"{key}: 0" if isinstance(value, ast.Dict) else (f"{key}," if isinstance(value, ast.Tuple) else key)
        stand_in = text[0] + inner + "".join(re.findall(r"\r\n|\r|\n", text)) + text[-1]  # its line breaks
        pieces.append((begin, end, stand_in, text))
    if not pieces:
        return source, {}
    out, last = [], 0
    for begin, end, stand_in, _ in pieces:
        out.append(source[last:begin])
        out.append(stand_in)
        last = end
    out.append(source[last:])
    return "".join(out), {stand_in: text for _, _, stand_in, text in pieces}


def restore(text: str, stand_ins: dict[str, str]) -> str | None:
    """The migrated text with the original literals back; None when a stand-in is not there exactly once
    (a rewrite touched it: the result must not be written)."""
    for stand_in, original in stand_ins.items():
        if text.count(stand_in) != 1:
            return None
        text = text.replace(stand_in, original)
    return text
