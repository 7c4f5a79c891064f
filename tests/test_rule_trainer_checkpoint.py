"""trainer_checkpoint: the trainer's save pair -> save_checkpoint; TrainerCheckpoint.load -> load_trainer_state."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules import RULES

TRAINER = '''import os

from metta.agent.policy_metadata import PolicyMetadata
from metta.agent.policy_record import PolicyRecord
from metta.agent.policy_store import PolicyStore
from metta.rl.trainer_checkpoint import TrainerCheckpoint


def train(data_dir: str, run: str, agent, optimizer, store: PolicyStore, epochs: int) -> None:
    run_dir = os.path.join(data_dir, run)
    state = TrainerCheckpoint.load(run_dir)
    epoch = state.epoch if state is not None else 0
    while epoch < epochs:
        epoch += 1
        # save both
        pr = PolicyRecord(store, run, f"file://{run_dir}/checkpoints/model_{epoch:04d}.pt", PolicyMetadata(epoch=epoch, score=0.5))
        pr.policy = agent
        store.save(pr)
        TrainerCheckpoint(epoch=epoch, optimizer_state_dict=optimizer.state_dict(), policy_path=pr.uri).save(run_dir)
'''


def test_save_pair_and_load_migrate_together() -> None:
    result = check_rule(RULES, TRAINER, '''import os

from tinyckpt import TinyCheckpointManager, save_checkpoint


def train(data_dir: str, run: str, agent, optimizer, epochs: int) -> None:
    run_dir = os.path.join(data_dir, run)
    state = TinyCheckpointManager(run, base_dir=data_dir).load_trainer_state()
    epoch = state["epoch"] if state is not None else 0
    while epoch < epochs:
        epoch += 1
        # save both
        save_checkpoint(agent, run, epoch, {"optimizer_state_dict": optimizer.state_dict()}, base_dir=data_dir)
''', module_name="app.trainer")
    assert any("dropped metadata: score" in s.message for s in result.sites)


def test_a_load_is_manual_while_a_save_elsewhere_stays_legacy() -> None:
    elsewhere = '''from metta.rl.trainer_checkpoint import TrainerCheckpoint


def dump(run_dir):
    TrainerCheckpoint(epoch=1).save(run_dir)
'''
    before = '''import os

from metta.rl.trainer_checkpoint import TrainerCheckpoint


def resume(base, run):
    state = TrainerCheckpoint.load(os.path.join(base, run))
    return state.epoch
'''
    after = before.replace("    state = ", "    # tinyckpt-migrate: manual: TrainerCheckpoint.load: a TrainerCheckpoint.save in "
                           "the tree stays legacy (or the tree is unknown); decide where the trainer state is read from\n"
                           "    state = ")
    check_rule(RULES, before, after, module_name="app.resume", others={"app.dump": elsewhere},
               sites=[("manual", "trainer_checkpoint", "stays legacy")])
    marked = elsewhere.replace("    TrainerCheckpoint(", "    # tinyckpt-migrate: manual: TrainerCheckpoint.save outside the "
                               "trainer's save pair; decide where the trainer state is written\n    TrainerCheckpoint(")
    check_rule(RULES, elsewhere, marked, module_name="app.dump", others={"app.resume": before},
               sites=[("manual", "trainer_checkpoint", "outside the trainer's save pair")])


def test_a_load_with_a_filename_or_other_reads_is_manual() -> None:
    before = '''from metta.rl.trainer_checkpoint import TrainerCheckpoint


def resume(run_dir):
    state = TrainerCheckpoint.load(run_dir, filename="other.pt")
    return state.agent_step
'''
    after = before.replace("    state = ", "    # tinyckpt-migrate: manual: TrainerCheckpoint.load: a filename or unusual "
                           "arguments; decide where the trainer state is read from\n    state = ")
    check_rule(RULES, before, after, module_name="app.resume", others={"app.trainer": TRAINER},
               sites=[("manual", "trainer_checkpoint", "filename")])


def test_a_local_class_of_the_same_name_is_untouched() -> None:
    source = '''class TrainerCheckpoint:
    @classmethod
    def load(cls, run_dir):
        return None


state = TrainerCheckpoint.load("./train_dir/run")
print(state.epoch)
'''
    check_rule(RULES, source, source)


def test_a_save_pair_whose_record_is_read_afterwards_is_not_rewritten() -> None:
    """The rewrite drops `pr`: a save pair whose record the code reads after it (a return, the next turn of its
    loop) stays as it is, its store and annotations with it (the rewrite once left `return pr` undefined, or a
    store parameter removed under a pair that stayed)."""
    from rule_helpers import run_rule

    returned = TRAINER.replace("-> None:", "-> PolicyRecord:") + "    return pr\n"
    looped = TRAINER.replace("        epoch += 1\n", "        epoch += 1\n        print(epoch, locals().get('pr') and pr.uri)\n")
    for source in (returned, looped):
        result = run_rule(RULES, source)
        assert result.error is None and "save_checkpoint(agent" not in result.new_source, source
        assert "store: PolicyStore" in result.new_source and "store.save(pr)" in result.new_source
        assert "-> str" not in result.new_source
