"""checkpoint_manager: SimpleCheckpointManager -> TinyCheckpointManager, with the run_dir trap avoided."""

from __future__ import annotations

import pytest
from rule_helpers import check_rule, run_rule

from codemods.legacy import MARKER_PREFIX
from codemods.rules import RULES as ALL_RULES
from codemods.rules.annotations import Annotations
from codemods.rules.checkpoint_manager import CheckpointManagerRule
from codemods.rules.legacy_imports import LegacyImports

M = ("migrated", "checkpoint_manager")
L = ("migrated", "legacy_imports")  # the legacy import the rewrites free, reported where it goes
IMPORT = "from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n"
NEW_IMPORT = "from tinyckpt import TinyCheckpointManager\n"
PIPELINE = [CheckpointManagerRule, Annotations, LegacyImports]


def _fn(body: str, params: str = "mgr: SimpleCheckpointManager") -> str:
    return f"\n\ndef f({params}):\n" + "".join(f"    {line}\n" for line in body.splitlines())


CONSTRUCTION = {
    "keyword os.path.join (import os goes with it)": (
        "import os\n\n" + IMPORT + "\nmgr = SimpleCheckpointManager(run_dir=os.path.join(root, name), run_name=name)\n",
        NEW_IMPORT + "\nmgr = TinyCheckpointManager(name, base_dir=root)\n",
    ),
    "positional, attribute arguments": (
        "import os\n" + IMPORT + "\nm = SimpleCheckpointManager(os.path.join(cfg.data_dir, cfg.run_name), cfg.run_name)\n"
        "os.sep\n",
        "import os\n" + NEW_IMPORT + "\nm = TinyCheckpointManager(cfg.run_name, base_dir=cfg.data_dir)\nos.sep\n",
    ),
    "three-part join keeps the rest of the join": (
        "import os\n" + IMPORT + "\nm = SimpleCheckpointManager(os.path.join(root, 'runs', name), name)\n",
        "import os\n" + NEW_IMPORT + "\nm = TinyCheckpointManager(name, base_dir=os.path.join(root, 'runs'))\n",
    ),
    "f-string under the default root": (
        IMPORT + "\nm = SimpleCheckpointManager(run_dir=f\"./train_dir/{run}\", run_name=run)\n",
        NEW_IMPORT + "\nm = TinyCheckpointManager(run)\n",
    ),
    "f-string under another root": (
        IMPORT + "\nm = SimpleCheckpointManager(f\"{root}/{run}\", run)\n",
        NEW_IMPORT + "\nm = TinyCheckpointManager(run, base_dir=root)\n",
    ),
    "Path division": (
        IMPORT + "\nm = SimpleCheckpointManager(str(tmp_path / \"run\"), \"run\")\n",
        NEW_IMPORT + "\nm = TinyCheckpointManager(\"run\", base_dir=tmp_path)\n",
    ),
    "literal run directory": (
        IMPORT + "\nm = SimpleCheckpointManager(\"/data/runs/exp1\", \"exp1\")\n",
        NEW_IMPORT + "\nm = TinyCheckpointManager(\"exp1\", base_dir='/data/runs')\n",
    ),
}


@pytest.mark.parametrize("name", CONSTRUCTION)
def test_construction(name: str) -> None:
    before, after = CONSTRUCTION[name]
    check_rule(CheckpointManagerRule, before, after, sites=[M])


def test_run_dir_that_is_not_visibly_base_and_run_name_is_manual() -> None:
    before = IMPORT + "\nmgr = SimpleCheckpointManager(run_dir, run_name)\n"
    reason = "run_dir is not visibly <base_dir>/<run_name>"
    result = check_rule(CheckpointManagerRule, before, before.replace("\nmgr", f"\n{MARKER_PREFIX}{reason}", 1)
                        .replace(reason, reason + "; choose base_dir (TinyCheckpointManager's base_dir is the parent "
                                 "of the run directory)\nmgr"), sites=[("manual", "checkpoint_manager", reason)])
    assert result.sites[0].line == 4  # the marked statement, in the new text


def test_a_mismatched_literal_is_manual() -> None:
    before = IMPORT + "\nmgr = SimpleCheckpointManager(\"/runs/a\", \"b\")\n"
    result = check_rule(CheckpointManagerRule, before, None or _marked(before), sites=[("manual", "checkpoint_manager")])
    assert "base_dir" in result.sites[0].message


def _marked(before: str) -> str:
    lines = before.splitlines(keepends=True)
    reason = ("run_dir is not visibly <base_dir>/<run_name>; choose base_dir (TinyCheckpointManager's base_dir is the "
              "parent of the run directory)")
    return "".join(lines[:-1]) + MARKER_PREFIX + reason + "\n" + lines[-1]


METHODS = {
    "load_agent on a parameter": ("return mgr.load_agent()", "return mgr.load_latest_agent()", [M]),
    "attributes run_name and checkpoint_dir unchanged, run_dir is the parent of checkpoint_dir": (
        "return mgr.run_name, mgr.checkpoint_dir, mgr.run_dir",
        "return mgr.run_name, mgr.checkpoint_dir, mgr.checkpoint_dir.parent", [M]),
    "save pair merged": (
        "path = mgr.save_agent(agent, epoch, {\"score\": s, \"agent_step\": step})\n"
        "mgr.save_trainer_state(opt, epoch, step)\nreturn path",
        "path = mgr.save_checkpoint(agent, epoch, {\"optimizer\": opt.state_dict(), \"agent_step\": step})\n"
        "return path", [("migrated", "checkpoint_manager", "metadata dropped: score")]),
    "lone save_agent": (
        "mgr.save_agent(agent, 3, {\"score\": 0.5})",
        "mgr.save_checkpoint(agent, 3)", [("migrated", "checkpoint_manager", "metadata dropped: score")]),
    "lone save_agent over several lines": (
        "mgr.save_agent(\n    agent,\n    3,\n    {\"score\": 0.5},\n)",
        "mgr.save_checkpoint(\n    agent,\n    3,\n)", [("migrated", "checkpoint_manager", "metadata dropped: score")]),
    "trainer state keys follow the saved dict": (
        "state = mgr.load_trainer_state()\nif state is not None:\n    opt.load_state_dict(state[\"optimizer_state\"])\n"
        "    return state[\"epoch\"], state[\"agent_step\"]",
        "state = mgr.load_trainer_state()\nif state is not None:\n    opt.load_state_dict(state[\"optimizer\"])\n"
        "    return state[\"epoch\"], state[\"agent_step\"]", [M]),
    "trainer state read with .get": (
        "state = mgr.load_trainer_state()\nreturn state.get(\"optimizer_state\") if state else None",
        "state = mgr.load_trainer_state()\nreturn state.get(\"optimizer\") if state else None", [M]),
    "get_checkpoint_count": ("return mgr.get_checkpoint_count()", "return len(mgr.list_epochs())", [M]),
}


@pytest.mark.parametrize("name", METHODS)
def test_methods(name: str) -> None:
    body, new_body, sites = METHODS[name]
    check_rule(PIPELINE, IMPORT + _fn(body), NEW_IMPORT + _fn(new_body, "mgr: TinyCheckpointManager"),
               sites=[L, ("migrated", "annotations"), *sites])  # in source order: the import, then the annotation


@pytest.mark.parametrize("method", ["find_best_checkpoint(\"score\")", "find_checkpoints_by_score(0.5)",
                                    "save_trainer_state(opt, 3, 10)", "cleanup_old_checkpoints(2)"])
def test_methods_without_counterpart_are_manual(method: str) -> None:
    before = IMPORT + _fn(f"return mgr.{method}")
    result = check_rule(CheckpointManagerRule, before, before.replace("    return", "    # tinyckpt-migrate: manual: "
                        + _reason(method) + HOLDS_ITS_ANNOTATION + "\n    return"), sites=[("manual", "checkpoint_manager")],
                        flakes=False)
    assert result.sites[0].line == 6


# the manual site of a manager holds back the rest of its unit, and its marker says so (here: f's annotation)
HOLDS_ITS_ANNOTATION = "; it holds back 1 other site of the same SimpleCheckpointManager (in app.main)"


def _reason(method: str) -> str:
    from codemods.rules.checkpoint_manager import NO_COUNTERPART
    return NO_COUNTERPART[method.partition("(")[0]]


def test_manager_on_self_and_save_pair_in_a_method() -> None:
    before = IMPORT + (
        "\n\nclass Trainer:\n"
        "    def __init__(self, checkpoint_manager: SimpleCheckpointManager):\n"
        "        self.checkpoint_manager = checkpoint_manager\n\n"
        "    def resume(self):\n"
        "        return self.checkpoint_manager.load_agent()\n\n"
        "    def save(self):\n"
        "        self.checkpoint_manager.save_agent(self.agent, self.epoch, {})\n"
        "        self.checkpoint_manager.save_trainer_state(self.optimizer, self.epoch, self.agent_step)\n")
    after = NEW_IMPORT + (
        "\n\nclass Trainer:\n"
        "    def __init__(self, checkpoint_manager: TinyCheckpointManager):\n"
        "        self.checkpoint_manager = checkpoint_manager\n\n"
        "    def resume(self):\n"
        "        return self.checkpoint_manager.load_latest_agent()\n\n"
        "    def save(self):\n"
        "        self.checkpoint_manager.save_checkpoint(self.agent, self.epoch, {\"optimizer\": "
        "self.optimizer.state_dict(), \"agent_step\": self.agent_step})\n")
    check_rule(PIPELINE, before, after, sites=[L, ("migrated", "annotations"), M, M])


def test_fixtures_from_conftest() -> None:
    conftest = ("import pytest\n\n" + IMPORT + "\n\n@pytest.fixture\ndef manager(tmp_path) -> SimpleCheckpointManager:\n"
                "    return SimpleCheckpointManager(str(tmp_path / 'r'), 'r')\n")
    before = "def test_it(manager):\n    assert manager.load_agent() is None\n"
    after = "def test_it(manager):\n    assert manager.load_latest_agent() is None\n"
    check_rule(CheckpointManagerRule, before, after, sites=[M], module_name="tests.test_it",
               others={"tests.conftest": conftest})


def test_a_fixture_that_yields_its_manager_through_a_variable() -> None:
    """pytest's value of a generator fixture is what it yields: followed into the tests like a return."""
    conftest = ("import pytest\n\n" + IMPORT + "\n\n@pytest.fixture\ndef manager(tmp_path):\n"
                "    mgr = SimpleCheckpointManager(str(tmp_path / 'r'), 'r')\n    yield mgr\n    mgr.load_agent()\n")
    conftest_after = (NEW_IMPORT + "\n\n@pytest.fixture\ndef manager(tmp_path):\n"
                      "    mgr = TinyCheckpointManager('r', base_dir=tmp_path)\n    yield mgr\n    mgr.load_latest_agent()\n")
    conftest_after = "import pytest\n\n" + conftest_after
    before = "def test_it(manager):\n    manager.save_agent(agent, 1, {})\n"
    after = "def test_it(manager):\n    manager.save_checkpoint(agent, 1)\n"
    trees = {"tests.conftest": conftest, "tests.test_it": before}
    check_rule(CheckpointManagerRule, before, after, sites=[M], module_name="tests.test_it", others=trees)
    check_rule(PIPELINE, conftest, conftest_after, sites=[L, M, M], module_name="tests.conftest", others=trees)


def test_a_manager_yielded_by_a_plain_generator_stays() -> None:
    """Outside a fixture a yielded value goes wherever the generator's consumers take it: not followed."""
    source = IMPORT + "\n\ndef managers(names):\n    for name in names:\n        yield SimpleCheckpointManager(f'./train_dir/{name}', name)\n"
    result = check_rule(CheckpointManagerRule, source, source.replace(
        "        yield", "        # tinyckpt-migrate: manual: a SimpleCheckpointManager used in a Yield; it stays as it is\n        yield"),
        sites=[("manual", "checkpoint_manager", "Yield")])
    assert not [s for s in result.sites if s.outcome == "migrated"]


NEAR_MISSES = {
    "a local class called SimpleCheckpointManager": (
        "class SimpleCheckpointManager:\n    def load_agent(self):\n        return None\n\n\n"
        "mgr = SimpleCheckpointManager('./train_dir/x', 'x')\nmgr.load_agent()\n"),
    "load_agent on an unrelated object": (
        IMPORT + "\n\ndef f(loader, mgr: SimpleCheckpointManager):\n    return loader.load_agent(), mgr.run_name\n"),
    "a new CheckpointManager imported from elsewhere": (
        "from app.checkpoints import CheckpointManager\n\n"
        "mgr = CheckpointManager(run_dir='./train_dir/x', run_name='x')\nmgr.save_agent({'lr': 1})\nmgr.load_agent()\n"),
    "save pair for different epochs is not merged, and a lone save_trainer_state stays":  None,
}


@pytest.mark.parametrize("name", [n for n, v in NEAR_MISSES.items() if v])
def test_near_misses(name: str) -> None:
    check_rule(CheckpointManagerRule, NEAR_MISSES[name], NEAR_MISSES[name])


def test_pair_for_different_epochs_is_not_merged_and_the_lone_state_holds_the_manager_back() -> None:
    """The manager is one unit: with its save_trainer_state left for a person, its save_agent stays too (a
    save_checkpoint then a save_trainer_state on the same object would fail at run time)."""
    body = "mgr.save_agent(a, e, {})\nmgr.save_trainer_state(opt, e - 1, step)"
    before = IMPORT + _fn(body)
    after = IMPORT + _fn("mgr.save_agent(a, e, {})\n# tinyckpt-migrate: manual: " + _reason("save_trainer_state")
                         + "; it holds back 2 other sites of the same SimpleCheckpointManager (in app.main)"
                         + "\nmgr.save_trainer_state(opt, e - 1, step)")
    check_rule(CheckpointManagerRule, before, after, sites=[("manual", "checkpoint_manager")])


def test_a_name_that_also_holds_a_value_of_unseen_origin_is_manual() -> None:
    """`other` comes from callers the project does not have: the manager's unit cannot be proven whole."""
    before = IMPORT + "\n\ndef f(mgr: SimpleCheckpointManager, other):\n    mgr = other\n    return mgr.load_agent()\n"
    after = before.replace("\n\ndef f", "\n\n# tinyckpt-migrate: manual: a SimpleCheckpointManager received by f()'s "
                           "parameter other, and nothing in the project calls f(): where it comes from cannot be seen; "
                           "it stays as it is; it holds back 2 other sites of the same SimpleCheckpointManager (in "
                           "app.main)\ndef f")
    check_rule(CheckpointManagerRule, before, after, sites=[("manual", "checkpoint_manager", "cannot be seen")])


def test_trainer_state_handed_elsewhere_is_manual() -> None:
    """Whoever receives the dict may read the legacy key: a person updates it."""
    from codemods.analysis.solution import STATE_ESCAPES as ESCAPES
    before = IMPORT + _fn("state = mgr.load_trainer_state()\nrestore(state)")
    after = IMPORT + _fn(f"# tinyckpt-migrate: manual: {ESCAPES}{HOLDS_ITS_ANNOTATION}\nstate = mgr.load_trainer_state()\n"
                         "restore(state)")
    check_rule(CheckpointManagerRule, before, after, sites=[("manual", "checkpoint_manager", "leaves this function")])


def test_the_manager_class_used_as_a_value_is_manual() -> None:
    from codemods.rules.checkpoint_manager import AS_VALUE
    before = IMPORT + _fn("return isinstance(mgr, SimpleCheckpointManager)", "mgr")
    after = IMPORT + _fn(f"# tinyckpt-migrate: manual: {AS_VALUE}\nreturn isinstance(mgr, SimpleCheckpointManager)",
                         "mgr")
    check_rule(CheckpointManagerRule, before, after, sites=[("manual", "checkpoint_manager")])


# -- issue 17: a manager and every module it reaches migrate together, or not at all --------------

BUILDER = IMPORT + "\n\ndef open_run(root, name):\n    return SimpleCheckpointManager({run_dir}, name)\n"
USER = ("from app.runs import open_run\n\n\ndef resume(root, name):\n    mgr = open_run(root, name)\n"
        "    return mgr.load_agent(), mgr.run_name\n")


def test_a_manager_built_with_an_opaque_run_dir_changes_nowhere() -> None:
    """The constructor is manual (run_dir is not visibly base/run): its unit, across modules, stays whole;
    the marker names what it holds back, the other module says why it is left."""
    builder = BUILDER.format(run_dir="compute_dir(root, name)")
    trees = {"app.runs": builder, "app.use": USER}
    result = run_rule(ALL_RULES, builder, module_name="app.runs", others=trees)
    [site] = [s for s in result.sites if s.outcome == "manual"]
    assert site.rule == "checkpoint_manager" and "run_dir is not visibly" in site.message
    assert "holds back" in site.message and "app.use" in site.message
    assert not [s for s in result.sites if s.outcome == "migrated"]
    used = run_rule(ALL_RULES, USER, module_name="app.use", others=trees)
    assert not [s for s in used.sites if s.outcome == "migrated"]
    assert used.new_source == USER.replace("    return mgr", "    # tinyckpt-migrate: manual: stays legacy with its "
                                           "SimpleCheckpointManager in app.runs: run_dir is not visibly "
                                           "<base_dir>/<run_name>; decide there, then run again\n    return mgr")


def test_a_manager_built_with_a_visible_run_dir_migrates_in_every_module() -> None:
    builder = BUILDER.format(run_dir="os.path.join(root, name)").replace(IMPORT, "import os\n\n" + IMPORT)
    trees = {"app.runs": builder, "app.use": USER}
    check_rule(ALL_RULES, builder, NEW_IMPORT + "\n\ndef open_run(root, name):\n    return TinyCheckpointManager(name, "
               "base_dir=root)\n", module_name="app.runs", others=trees, sites=[L, M])
    check_rule(ALL_RULES, USER, USER.replace("mgr.load_agent()", "mgr.load_latest_agent()"), module_name="app.use",
               others=trees, sites=[M])


def test_an_annotation_only_parameter_whose_only_caller_stays_legacy_is_unchanged() -> None:
    """`report(mgr: SimpleCheckpointManager)` does nothing with the manager that would change; its one
    caller passes a manager that stays legacy: the annotation stays (it would name a class the value is not)."""
    library = IMPORT + "\n\ndef report(mgr: SimpleCheckpointManager) -> str:\n    return mgr.run_name\n"
    caller = (IMPORT + "from app.lib import report\n\n\ndef main(d):\n    mgr = SimpleCheckpointManager(d, 'r')\n"
              "    mgr.find_best_checkpoint('score')\n    return report(mgr)\n")
    trees = {"app.lib": library, "app.main": caller}
    result = run_rule(ALL_RULES, library, module_name="app.lib", others=trees)
    assert result.new_source.replace("# tinyckpt-migrate: manual: stays legacy with its SimpleCheckpointManager in "
                                     "app.main: find_best_checkpoint has no tinyckpt counterpart (no score metadata); "
                                     "decide there, then run again\n", "") == library
    assert not [s for s in result.sites if s.outcome == "migrated"]
