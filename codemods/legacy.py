"""What the legacy API is and what it becomes, as data: the tables the rules, `check` and the
checkpoint converter share. Imports no LibCST (so `check` and the converter stay light)."""

from __future__ import annotations

#: SimpleCheckpointManager's trainer-state keys -> the keys the migrated code saves and reads
#: (`save_agent` + `save_trainer_state` become one `save_checkpoint(agent, epoch, {...})`).
MANAGER_STATE_KEYS = {"optimizer_state": "optimizer"}

#: TrainerCheckpoint fields the migrated save leaves out of the trainer-state dict: tinyckpt adds
#: "epoch" itself, and the path of the agent file is the checkpoint itself.
TRAINER_CHECKPOINT_DROPPED = ("epoch", "policy_path")
