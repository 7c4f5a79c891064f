"""What the legacy API is and what it becomes, as data: the tables the rules, `check` and the
checkpoint converter share. Imports no LibCST (so `check` and the converter stay light)."""

from __future__ import annotations

#: SimpleCheckpointManager's trainer-state keys -> the keys the migrated code saves and reads
#: (`save_agent` + `save_trainer_state` become one `save_checkpoint(agent, epoch, {...})`).
MANAGER_STATE_KEYS = {"optimizer_state": "optimizer"}

#: TrainerCheckpoint fields the migrated save leaves out of the trainer-state dict: tinyckpt adds
#: "epoch" itself, and the path of the agent file is the checkpoint itself.
TRAINER_CHECKPOINT_DROPPED = ("epoch", "policy_path")

#: SimpleCheckpointManager's trainer-state keys the migrated dict leaves out: the epoch given to
#: `save_trainer_state` becomes `save_checkpoint`'s epoch argument (tinyckpt adds "epoch" on load).
MANAGER_STATE_DROPPED = ("epoch",)

# -- the legacy files on disk (read by `tinyckpt-migrate checkpoints`) ----------------------------

#: An agent file in `<run>/checkpoints/`, both legacy states (written as `model_{epoch:04d}.pt`;
#: the epoch is read from the name). The full-legacy store pickles a whole record in it, the
#: half-migrated manager the bare agent.
LEGACY_AGENT_FILE = r"model_(\d+)\.pt"

#: The half-migrated manager's metadata sidecar beside each agent file (`model_0004.yaml`): flat
#: `key: value` lines, `epoch` among them.
LEGACY_SIDECAR_SUFFIX = ".yaml"

#: The trainer state: the full-legacy `TrainerCheckpoint` in `<run>/`, the half-migrated manager's
#: dict (`MANAGER_STATE_KEYS`) in `<run>/checkpoints/`. It belongs to the epoch it holds.
LEGACY_TRAINER_FILE = "trainer_state.pt"

#: Legacy classes whose pickled instances the converter reads through plain stand-ins, never by
#: importing their (possibly deleted) modules: legacy class -> what it is. The modules come from
#: the configuration's legacy names.
PICKLED_LEGACY_CLASSES = {
    "PolicyRecord": "record",
    "PolicyMetadata": "metadata",
    "TrainerCheckpoint": "trainer checkpoint",
    "PolicyWrapper": "wrapper",
}

#: The metadata class the half-migrated wrapper holds, defined in the wrapper's module.
WRAPPER_METADATA_CLASS = "PolicyWrapperMetadata"
