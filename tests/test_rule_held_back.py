"""held_back: code that stays legacy only because a manual site in another file holds its unit back is
marked (once per file and unit) with the place and the reason of that site."""

from __future__ import annotations

from rule_helpers import check_rule, run_rule

from codemods.rules import RULES
from codemods.rules.held_back import HeldBack

TRAIN = '''from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager


def train(agent, epoch):
    mgr = SimpleCheckpointManager(run_dir="./train_dir/run", run_name="run")
    mgr.save_agent(agent, epoch, {})
    return mgr.find_best_checkpoint("score")
'''
PLAY = '''from metta.sim.simple_policy_store import SimplePolicyStore


def play():
    store = SimplePolicyStore(device="cpu")
    pw = store.policy_record("./train_dir/run/checkpoints")
    return pw.policy
'''
DISK = ("    # tinyckpt-migrate: manual: stays legacy: it reads checkpoints that legacy code in app.train writes, where "
        "find_best_checkpoint has no tinyckpt counterpart (no score metadata); decide there, then run again\n")


def test_a_reader_of_checkpoints_a_held_back_manager_writes_is_marked_with_the_writer() -> None:
    """The manager stays legacy (find_best_checkpoint), so it keeps writing the legacy layout: the reader in
    another file would not find tinyckpt checkpoints, stays legacy too, and says why."""
    others = {"app.train": TRAIN, "app.play": PLAY}
    marked = PLAY.replace('    pw = store', DISK + '    pw = store')
    check_rule(RULES, PLAY, marked, module_name="app.play", others=others, sites=[("manual", "held_back", "app.train")])
    # the writer's own file has its manual site (which names the readers), and no held_back marker
    writer = run_rule(RULES, TRAIN, module_name="app.train", others=others)
    assert [(s.rule, s.outcome) for s in writer.sites] == [("checkpoint_manager", "manual")]
    assert "that read the checkpoints it writes (in app.play, app.train)" in writer.sites[0].message


def test_without_the_held_back_writer_the_reader_migrates() -> None:
    others = {"app.train": TRAIN.replace('    return mgr.find_best_checkpoint("score")\n', ''), "app.play": PLAY}
    result = run_rule(RULES, PLAY, module_name="app.play", others=others)
    assert "latest_checkpoint(" in result.new_source and "held_back" not in {s.rule for s in result.sites}


def test_one_marker_per_file_and_unit_at_its_first_site() -> None:
    """A record passed to a function in another file: the caller's wandb:// site holds the record back; the
    callee is marked once, above its first use, however many uses it has."""
    lib = '''def describe(pr):
    name = pr.run_name
    return f"{name}@{pr.metadata.epoch}"
'''
    caller = '''from metta.agent.policy_store import PolicyStore
from app.lib import describe


def main(store: PolicyStore):
    print(describe(store.policy_record("./train_dir/run")))
    print(describe(store.policy_record("wandb://run/x")))
'''
    marked = lib.replace("    name =", "    # tinyckpt-migrate: manual: stays legacy with its record in app.caller: wandb:// "
                                      "URIs have no tinyckpt counterpart; decide there, then run again\n    name =")
    result = check_rule([HeldBack], lib, marked, module_name="app.lib", others={"app.caller": caller, "app.lib": lib},
                        sites=[("manual", "held_back", "app.caller")])
    assert [(s.rule, s.line) for s in result.sites] == [("held_back", 3)]  # the line of the marked statement


def test_nothing_is_marked_in_the_file_that_holds_the_manual_site() -> None:
    source = '''from metta.agent.policy_store import PolicyStore


def main(store: PolicyStore):
    pr = store.policy_record("wandb://run/x")
    return pr.run_name
'''
    result = run_rule(RULES, source, module_name="app.main")
    assert [s.rule for s in result.sites] == ["policy_store"]


def test_a_writer_stays_while_a_reader_of_its_checkpoints_stays() -> None:
    """A second manager that only saves (it could migrate alone) would write the tinyckpt layout for readers
    that stay legacy with the first one (found by the generated training repository's own tests: a test saving
    a checkpoint by hand for an evaluator that stayed a SimplePolicyStore)."""
    hand = ("import os\n" + TRAIN.split("\n\n\n")[0] + "\n\n\ndef save(agent, root):\n"
            "    mgr = SimpleCheckpointManager(run_dir=os.path.join(root, 'hand'), run_name='hand')\n"
            "    return mgr.save_agent(agent, 7, {})\n")
    others = {"app.train": TRAIN, "app.play": PLAY, "app.hand": hand}
    result = run_rule(RULES, hand, module_name="app.hand", others=others)
    assert not [s for s in result.sites if s.outcome == "migrated"]
    [site] = result.sites
    assert site.rule == "held_back" and site.message.startswith(
        "stays legacy: it writes checkpoints that code staying legacy with app.train reads")
    alone = run_rule(RULES, hand, module_name="app.hand", others={"app.hand": hand, "app.play": PLAY})
    assert "save_checkpoint(agent, 7)" in alone.new_source  # with nothing else staying, it migrates
