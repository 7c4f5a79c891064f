"""The base of the rules that act on the value graph: build, solve, then rewrite while visiting."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import (
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from codemods.config import Config
from codemods.rules._base import CONFIG_KEY, LegacyRule, shared_wrapper
from codemods.rules._dataflow import Builder, Graph
from codemods.rules._save_pair import save_pairs
from codemods.rules._solution import Solution, solve

# Statements other rules rewrite wholesale (e.g. the trainer's save pair): not part of the graph.
SKIPPERS: list[Callable[[Builder], Sequence[cst.CSTNode]]] = [lambda b: save_pairs(b.tree, b.legacy)]
_CACHE: dict[str, Any] = {}


def build_graph(wrapper: MetadataWrapper, context: CodemodContext, config: Config) -> Builder:
    """This file's graph over `wrapper.module` (the same Builder again for the same wrapper: the facts
    pass and the flow rules that see the tree unchanged build it once)."""
    module, package = context.full_module_name or "__main__", context.full_package_name
    last = _CACHE.get("builder")
    if last is None or last[0] is not wrapper or last[1] is not config or last[2] != (module, package):
        last = (wrapper, config, (module, package), Builder(wrapper, module, package, config, skip_fns=SKIPPERS))
        _CACHE["builder"] = last
    return last[3]


class FlowRule(LegacyRule):
    """A LegacyRule with `self.flow` (this file's Builder) and `self.solution` (the whole tree)."""

    # False: this file as it is now + the other files as they were (the rules before this one kept
    # every unit's verdict). True: every file as it was (this rule changes signatures, so every file
    # must decide from the same input; nodes are matched by position-independent keys).
    ORIGINAL_GRAPHS: ClassVar[bool] = False
    NEEDLES: ClassVar[bool] = False  # this rule's facts also carry the runner's ("needle", name) words
    METADATA_DEPENDENCIES: ClassVar[Sequence[Any]] = (
        QualifiedNameProvider, PositionProvider, ScopeProvider, ParentNodeProvider, ExpressionContextProvider)

    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """This file's graph (built once per tree, shared by every flow rule's facts)."""
        config = context.scratch.get(CONFIG_KEY) or Config()
        graph = build_graph(shared_wrapper(tree), context, config).graph
        return [graph, *needles(graph)] if cls.NEEDLES else [graph]

    def transform_module(self, tree: cst.Module) -> cst.Module:
        """Files with nothing in a legacy unit or store are left alone before any metadata is computed."""
        graphs = self.index.get(self.NAME)
        if graphs is not None:
            module = self.context.full_module_name or "__main__"
            own = next((g for g in graphs if isinstance(g, Graph) and g.module == module), None)
            if own is not None and not self.relevant(own, _whole_tree(graphs), tree):
                return tree
        return super().transform_module(tree)

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        self.flow = build_graph(self.context.wrapper, self.context, self.config)
        graphs = self.index.get(self.NAME)
        own = self.flow.graph
        if graphs is None:  # run alone, without the tree: nothing crosses a file boundary safely
            own = _isolated(own)
        if self.ORIGINAL_GRAPHS and graphs and any(isinstance(g, Graph) and g.module == own.module for g in graphs):
            self.solution: Solution = Solution([g for g in graphs if isinstance(g, Graph)])
        else:
            self.solution = solve(own, {self.NAME: graphs or []}, self.NAME)
        self._pending: dict[int, list[str]] = {}
        self.prepare()
        return super().transform_module_impl(tree)

    def relevant(self, own: Graph, solution: Solution, tree: cst.Module) -> bool:
        """Whether this file (its graph `own`, the tree as it was) can have work for this rule."""
        return _relevant(own, solution)

    def prepare(self) -> None:
        """Decide what to do (subclasses); call `self.manual_later(node, reason)` for manual sites."""

    def manual_later(self, node: cst.CSTNode, reason: str) -> None:
        reasons = self._pending.setdefault(id(node), [])
        if reason not in reasons:
            reasons.append(reason)

    def on_visit(self, node: cst.CSTNode) -> bool:
        result = super().on_visit(node)
        for reason in self._pending.pop(id(node), []):
            self.manual(node, reason)
        return result

    def site_node(self, site: str) -> cst.CSTNode | None:
        """The node of a site of THIS file (facts from other files have no node here)."""
        return self.flow.nodes.get(site) if site else None


def needles(graph: Graph) -> list[tuple[str, str]]:
    """("needle", name) for the functions and classes of a module where records or stores live: a file
    that only calls them (and mentions nothing legacy) still passes or receives records and stores."""
    legacy = any(kind in ("rec", "store") for _, kind, _, _ in graph.facts) or \
        any(op[0] == "producer" for op in graph.ops)
    if not legacy:
        return []
    top = f"{graph.module}."
    names = {q[len(top):].partition(".")[0] for q in graph.sigs if q.startswith(top)}
    names |= set(graph.fixtures)
    return sorted(("needle", n) for n in names if n.isidentifier() and not n.startswith("__"))


def _whole_tree(graphs: list[Any]) -> Solution:
    """The solution over every file as it was (cached: the same for every file of a run)."""
    if _CACHE.get("graphs") is not graphs:
        _CACHE.update(graphs=graphs, solution=Solution([g for g in graphs if isinstance(g, Graph)]))
    return _CACHE["solution"]


def _relevant(graph: Graph, solution: Solution) -> bool:
    """Anything of this file in a legacy unit, or a store."""
    keys = {k for k, *_ in graph.facts} | {k for pair in graph.unions for k in pair} | \
        {k for k, *_ in graph.occurrences}
    return any(solution.unit(k) in solution.legacy_units or solution.has(k, "store") for k in keys)


def _isolated(graph: Graph) -> Graph:
    """Without the other files: every parameter and return may meet values this file cannot see."""
    facts = list(graph.facts)
    for q in graph.sigs:
        names, _ = graph.sigs[q]
        for name in names:
            facts.append((f"p:{q}:{name.lstrip('*')}", "unk", "callers in other files are not known", ""))
        facts.append((f"r:{q}", "unk", "callers in other files are not known", ""))
    return Graph(graph.module, graph.unions, facts, graph.ops, graph.sigs, graph.fixtures, graph.occurrences,
                 graph.fnrefs | set(graph.sigs), graph.unresolved)
