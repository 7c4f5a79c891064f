"""tinyckpt atomicity under SIGKILL: a process saving checkpoints in a loop is killed at a random
moment, many times, in the same run directory. After every kill:

- every file under a final name loads, and holds what was saved for that epoch;
- every complete epoch (agent file present) has its trainer file, from the same save;
- the run's latest epoch is at least the last epoch whose save returned before the kill
  (the previous latest stays loadable);
- leftovers of killed saves (temp directories) are ignored by listing.

The saving processes are forked (no torch import per kill), so ~60 kills take a few seconds.
"""
import multiprocessing
import os
import random
import shutil
import sys
import time

import pytest
import torch

from tinyckpt import TinyCheckpointManager

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
                       reason="needs fork and SIGKILL"),
    # Python >= 3.12 warns about fork() in a multi-threaded process; the child only saves and dies
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

ROUNDS = 60
AGENT_FLOATS = 1 << 19  # 2 MiB: a save takes a few ms, so most kills land inside one


def _saver(base_dir, first_epoch, payload, conn):
    """Child: save epochs first_epoch, first_epoch+1, ... until killed; report each finished one."""
    mgr = TinyCheckpointManager("run", base_dir)
    epoch = first_epoch
    while True:
        mgr.save_checkpoint({"epoch": epoch, "w": payload}, epoch, {"epoch_tag": epoch, "step": epoch * 7})
        conn.send(epoch)
        epoch += 1


def _check_final_files(mgr):
    """Every file under a final name loads and matches its epoch; complete epochs have trainer state."""
    names = os.listdir(mgr.checkpoint_dir)
    for name in names:
        if name.endswith(".pt"):
            kind, epoch = name[: -len(".pt")].rsplit("_epoch_", 1)
            obj = torch.load(mgr.checkpoint_dir / name, weights_only=True)  # raises if truncated
            assert (obj["epoch"] if kind == "agent" else obj["epoch_tag"]) == int(epoch), name
    for epoch in mgr.list_epochs():
        assert f"trainer_epoch_{epoch}.pt" in names, f"epoch {epoch} complete without its trainer file"
        assert mgr.load_trainer_state(epoch) == {"epoch_tag": epoch, "step": epoch * 7, "epoch": epoch}
    return names


def test_sigkill_mid_save_never_leaves_a_broken_checkpoint(tmp_path):
    ctx = multiprocessing.get_context("fork")
    mgr = TinyCheckpointManager("run", tmp_path)
    payload = torch.arange(AGENT_FLOATS, dtype=torch.float32)  # built before fork: the child only saves
    rng = random.Random(1234)
    interrupted = 0
    deadline = time.monotonic() + 25
    for _ in range(ROUNDS):
        previous = mgr.list_epochs()
        first = (previous[-1] + 1) if previous else 0
        recv, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_saver, args=(tmp_path, first, payload, send), daemon=True)
        child.start()
        send.close()
        finished = [recv.recv()]  # at least one save of this round completed
        time.sleep(rng.uniform(0, 0.03))
        child.kill()  # SIGKILL
        child.join()
        while recv.poll():
            try:
                finished.append(recv.recv())
            except EOFError:
                break
        assert child.exitcode == -9

        names = _check_final_files(mgr)
        epochs = mgr.list_epochs()
        assert epochs[-1] >= finished[-1], "a finished save was lost"
        latest = mgr.load_latest_agent(weights_only=True)
        assert latest["epoch"] == epochs[-1] and torch.equal(latest["w"], payload)
        leftovers = [n for n in names if n.startswith(".tmp-")]
        interrupted += bool(leftovers)
        assert all(not n.endswith(".pt") for n in leftovers)

        # keep the directory small: drop all but the latest epoch and the temp leftovers
        for epoch in epochs[:-1]:
            for kind in ("agent", "trainer"):
                (mgr.checkpoint_dir / f"{kind}_epoch_{epoch}.pt").unlink()
        for name in leftovers:
            shutil.rmtree(mgr.checkpoint_dir / name)
        if time.monotonic() > deadline:
            break
    # the kills must really have interrupted saves, or this test proves nothing
    assert interrupted >= 5, f"only {interrupted} kills interrupted a save"
