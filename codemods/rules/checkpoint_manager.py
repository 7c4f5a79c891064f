"""SimpleCheckpointManager -> TinyCheckpointManager: construction, methods, attributes, the save pair."""

from __future__ import annotations

import os
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import ParentNodeProvider

from codemods.rules._bindings import Binder
from codemods.rules._legacy_types import (
    code,
    import_map,
    is_fixture,
    is_test_file,
    qualify,
)
from codemods.rules._manager_saves import ManagerSaves
from codemods.rules._run_dir import NEW, construction

LEGACY = "SimpleCheckpointManager"
RENAMED = {"load_agent": "load_latest_agent"}
UNCHANGED = {"run_name", "checkpoint_dir", "load_trainer_state"}
NEW_API = {"base_dir", "exists", "list_epochs", "load_latest_agent", "save_checkpoint"}  # already migrated
NO_COUNTERPART = {
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

AS_VALUE = ("SimpleCheckpointManager used as a value (isinstance, a factory, ...); managers are "
            "TinyCheckpointManager now: decide")


class CheckpointManagerRule(ManagerSaves):
    NAME = "checkpoint_manager"
    RELEVANT = frozenset({LEGACY})
    DESCRIPTION = ("SimpleCheckpointManager(run_dir, run_name) -> TinyCheckpointManager(run_name, base_dir=<parent>); "
                   "load_agent -> load_latest_agent; save_agent + save_trainer_state -> save_checkpoint; "
                   "run_dir -> checkpoint_dir.parent; score queries -> manual.")
    METADATA_DEPENDENCIES = (*ManagerSaves.METADATA_DEPENDENCIES, ParentNodeProvider)

    @classmethod
    def collect(cls, tree: cst.Module, context: CodemodContext) -> list[Any]:
        """("fixture", name, directory, is_conftest, qualified return type or None, fixture it returns or None)."""
        path = os.path.abspath(context.filename or "")
        if not is_test_file(path):
            return []
        imported = import_map(tree, context.full_package_name)
        facts = []
        for fn in tree.body:
            if not isinstance(fn, cst.FunctionDef) or not is_fixture(fn):
                continue
            returned = [r.value for r in m.findall(fn, m.Return()) if r.value is not None]  # type: ignore[union-attr]
            kind = qualify(fn.returns.annotation, imported) if fn.returns else None
            alias = None
            if kind is None and len(returned) == 1:
                value = returned[0]
                kind = qualify(value.func, imported) if isinstance(value, cst.Call) else None
                alias = value.value if isinstance(value, cst.Name) else None
            facts.append(("fixture", fn.name.value, os.path.dirname(path), os.path.basename(path) == "conftest.py",
                          kind, alias))
            if alias or (kind or "").rpartition(".")[2] == LEGACY:
                facts.append(("needle", fn.name.value))  # test files using this fixture may mention nothing legacy
        return facts

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.managers = _Managers(self, node).run()
        self.start_saves(node)

    def relevant(self, tree: cst.Module) -> bool:
        return super().relevant(tree) or (is_test_file(self.context.filename) and bool(self.fixture_kinds()))

    # -- fixtures ---------------------------------------------------------------------------------
    def fixture_kinds(self) -> dict[str, str]:
        here = os.path.dirname(os.path.abspath(self.context.filename or ""))
        facts = [f for f in self.index.get(self.NAME, []) if f[0] == "fixture"
                 and (f[2] == here or (f[3] and (here + os.sep).startswith(f[2] + os.sep)))]
        kinds: dict[str, str] = {}
        for _ in range(3):  # fixtures returning other fixtures
            for _, name, _, _, qualified, alias in facts:
                kind = self._known(qualified) if qualified else kinds.get(alias or "")
                if kind:
                    kinds[name] = kind
        return kinds

    # -- calls, attributes, trainer-state keys --------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> Any:
        if self.legacy_class(original_node.func) == LEGACY:
            new = construction(self, original_node)
            if isinstance(new, str):
                self.manual(original_node, new)
                return updated_node
            self.migrated(original_node, f"SimpleCheckpointManager(...) -> {code(new)}")
            self.add_needed_import(self.config.target, NEW)
            self.remove_unused_import_by_node(original_node)
            return new
        func = original_node.func
        if not isinstance(func, cst.Attribute) or not self.holds(self.managers, func.value):
            return self.state_get(original_node, updated_node)
        method = func.attr.value
        if method in RENAMED:
            self.migrated(original_node, f"{method} -> {RENAMED[method]}")
            return updated_node.with_changes(func=updated_node.func.with_changes(attr=cst.Name(RENAMED[method])))
        if method == "save_agent":
            return self._save(original_node, updated_node)
        if method == "get_checkpoint_count" and not original_node.args:
            self.migrated(original_node, "get_checkpoint_count() -> len(list_epochs())")
            inner = updated_node.with_changes(func=updated_node.func.with_changes(attr=cst.Name("list_epochs")))
            return cst.Call(cst.Name("len"), [cst.Arg(inner)])
        if method == "save_trainer_state" and id(original_node) in self.pair_states():
            return updated_node
        if method in NO_COUNTERPART:
            self.manual(original_node, NO_COUNTERPART[method])
        elif method not in UNCHANGED | NEW_API:
            self.manual(original_node, f"SimpleCheckpointManager.{method} has no tinyckpt counterpart; decide")
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> Any:
        if self.class_as_value(original_node, LEGACY, self.get_metadata(ParentNodeProvider, original_node, None)):
            self.manual(original_node, AS_VALUE)
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> Any:
        if self.class_as_value(original_node, LEGACY, self.get_metadata(ParentNodeProvider, original_node, None)):
            self.manual(original_node, AS_VALUE)
            return updated_node
        if original_node.attr.value != "run_dir" or not self.holds(self.managers, original_node.value):
            return updated_node
        self.migrated(original_node, "run_dir -> checkpoint_dir.parent")
        return cst.Attribute(cst.Attribute(updated_node.value, cst.Name("checkpoint_dir")), cst.Name("parent"))

class _Managers(Binder):
    """Names and self attributes holding a manager that is migrated with its construction."""

    def __init__(self, rule: CheckpointManagerRule, module: cst.Module) -> None:
        super().__init__(module)
        self.rule = rule
        self.fixtures = rule.fixture_kinds() if is_test_file(rule.context.filename) else {}

    def takes_param(self, fn: cst.FunctionDef, param: cst.Param) -> bool:
        if param.annotation is not None:
            return self.rule.annotation_type(param.annotation.annotation) == (LEGACY, False)
        return self.fixtures.get(param.name.value) == LEGACY

    def takes_value(self, value: cst.BaseExpression, annotation: cst.BaseExpression | None) -> bool:
        if annotation is not None:
            return self.rule.annotation_type(annotation) == (LEGACY, False)
        if isinstance(value, cst.Call) and self.rule.legacy_class(value.func) == LEGACY:
            return not isinstance(construction(self.rule, value), str)
        return self.is_tracked(value)
