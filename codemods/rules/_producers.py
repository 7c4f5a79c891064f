"""Store calls that produce records: which have a tinyckpt counterpart, and what they become."""

from __future__ import annotations

import libcst as cst

from codemods.rules._dataflow import code, literal_str

# method -> positional parameters after the URI (PolicyStore signatures)
_AFTER_URI = {
    "policy_record": ("selector_type", "metric", "stats_client", "eval_name"),
    "policy_records": ("selector_type", "n", "metric", "stats_client", "eval_name"),
    "load_from_uri": (),
}
_URI_KEYWORDS = ("uri_or_config", "uri")
# URI scheme -> the manual reason
SCHEMES = {
    "wandb://": "wandb:// URIs have no tinyckpt counterpart; download the artifact or point at a local checkpoint",
    "pytorch://": "pytorch:// URIs have no tinyckpt counterpart; load the file with torch.load",
}
# selector (after the rewrite) -> (tinyckpt function, wrap the result in a one-element list)
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


def producer_problem(call: cst.Call, method: str) -> str | None:
    """Why a store call has no tinyckpt counterpart (the manual reason), or None."""
    if any(a.star for a in call.args):
        return f"{method}(*args/**kwargs): decide which checkpoints this selects"
    uri = uri_argument(call)
    if uri is None:
        return f"{method}() without a URI: decide which checkpoint this means"
    text = literal_str(uri.value)
    if isinstance(uri.value, cst.FormattedString):
        first = uri.value.parts[0] if uri.value.parts else None
        text = first.value if isinstance(first, cst.FormattedStringText) else ""
    for scheme, reason in SCHEMES.items():
        if text is not None and text.startswith(scheme):
            return reason
    if len([a for a in call.args if not a.keyword]) > 1 + len(_AFTER_URI[method]):
        return f"{method}: unexpected arguments"
    given, sel = selector(call, method)
    if method == "load_from_uri":
        return None if not given else "load_from_uri with extra arguments"
    if "stats_client" in given or "eval_name" in given:
        return "stats-server scores have no tinyckpt counterpart; decide how to rank checkpoints"
    if sel is None:
        return f"selector {code(given['selector_type'])} is not a literal; decide which checkpoints this selects"
    if sel == "top" and "metric" in given:
        return 'selector "top" by a metric has no tinyckpt counterpart; decide how to rank checkpoints'
    if sel == "top" and method == "policy_records":
        return 'selector "top" has no tinyckpt counterpart; decide how to rank checkpoints'
    if sel == "rand":
        return 'selector "rand" has no tinyckpt counterpart; decide which checkpoint to use'
    if "metric" in given:
        return f'metric= with selector "{sel}" has no tinyckpt counterpart; decide how to rank checkpoints'
    if "n" in given and not (sel == "latest" and _is_one(given["n"])):
        return f'n= with selector "{sel}" has no tinyckpt counterpart; decide how many checkpoints to take'
    if sel not in ("top", "latest", "all"):
        return f'selector "{sel}" is not a PolicyStore selector'
    if method == "policy_record" and sel == "all":
        return 'policy_record(..., selector_type="all") expects exactly one checkpoint; decide which one'
    return None


def _is_one(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Integer) and node.value == "1"


def replacement(call: cst.Call, method: str) -> tuple[cst.BaseExpression, str]:
    """The tinyckpt expression for a store call that has a counterpart, and the name it imports."""
    uri = uri_argument(call)
    assert uri is not None
    arg = cst.Arg(uri.value)
    if method == "policy_records":
        _, sel = selector(call, method)
        name, wrap = LIST_SELECTORS[sel or "all"]
        new: cst.BaseExpression = cst.Call(cst.Name(name), [arg])
        return (cst.List([cst.Element(new)]) if wrap else new), name
    return cst.Call(cst.Name("latest_checkpoint"), [arg]), "latest_checkpoint"
