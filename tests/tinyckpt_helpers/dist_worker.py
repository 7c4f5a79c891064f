"""One rank of the tinyckpt torch.distributed test (gloo, CPU).

usage: dist_worker.py RANK WORLD_SIZE INIT_FILE BASE_DIR   -> prints one JSON line with what it saw

Every rank calls save_checkpoint for epochs 1..3 with its own content; only rank 0 may write.
After a barrier rank 1 tries to overwrite epoch 3 and to add epoch 4; after another barrier every
rank loads the latest agent and trainer state. The test compares what the ranks report.
"""
import json
import sys

import torch
import torch.distributed as dist

from tinyckpt import TinyCheckpointManager, latest_checkpoint, parse_checkpoint_path


def main(rank: int, world_size: int, init_file: str, base_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    mgr = TinyCheckpointManager("run", base_dir)
    paths = [str(mgr.save_checkpoint({"writer": rank, "w": torch.full((3,), float(e))}, e, {"writer": rank}))
             for e in (1, 2, 3)]
    dist.barrier()  # rank 0's files are complete for everyone after this
    if rank != 0:
        mgr.save_checkpoint({"writer": rank, "w": torch.zeros(3)}, 3, {"writer": rank})
        mgr.save_checkpoint({"writer": rank, "w": torch.zeros(3)}, 4, {"writer": rank})
    dist.barrier()
    agent = mgr.load_latest_agent(weights_only=True)
    trainer = mgr.load_trainer_state()
    # every rank must hold the same weights: compare through a collective too
    gathered = [torch.zeros(3) for _ in range(world_size)]
    dist.all_gather(gathered, agent["w"])
    print(json.dumps({
        "rank": rank, "paths": paths, "epochs": mgr.list_epochs(), "agent_writer": agent["writer"],
        "w": agent["w"].tolist(), "trainer": trainer, "all_equal": all(torch.equal(g, agent["w"]) for g in gathered),
        "latest": parse_checkpoint_path(latest_checkpoint(mgr.checkpoint_dir)),
    }))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
