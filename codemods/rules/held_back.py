"""Legacy code held back by a manual site in another file gets a marker of its own: a unit (a value and
everything it flows through, across files) migrates all or nothing, so code that could migrate on its
own stays legacy while a site elsewhere is undecided. Without a marker here a reader of this file would
not know why it was left alone; with one, `check` and the report point at it too."""

from __future__ import annotations

from collections.abc import Iterable

from codemods.analysis import Analysis
from codemods.edits import Edit
from codemods.rules._rule import Rule


class HeldBack(Rule):
    NAME = "held_back"
    DESCRIPTION = ("Marks, once per file and unit, legacy code that stays legacy because a manual site in another "
                   "file holds its unit back (it names that file and its reason).")

    def plan(self, a: Analysis) -> Iterable[Edit]:
        module = a.module or "__main__"
        for sites, reason in a.solution.held_elsewhere(module):
            nodes = [node for node in map(a.node_of, sites) if node is not None]
            if nodes:  # the first in the file
                yield self.manual(min(nodes, key=a.position), reason)
