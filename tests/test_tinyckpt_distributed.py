"""tinyckpt under torch.distributed: 2 processes, gloo backend, CPU, file:// rendezvous.

Every rank calls save_checkpoint; only rank 0 writes; after a barrier all ranks load the same
epoch and the same weights. A later save on rank 1 (which would overwrite epoch 3 and add epoch 4
if non-zero ranks wrote) must change nothing.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="needs torch.distributed with gloo")

WORKER = Path(__file__).parent / "tinyckpt_helpers" / "dist_worker.py"


def test_rank_zero_writes_all_ranks_load_the_same_epoch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # stay on loopback, whatever the host name resolves to
    base = tmp_path / "train_dir"
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(rank), "2", str(tmp_path / "rendezvous"), str(base)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for rank in range(2)]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            proc.kill()
    expected_paths = [str(base / "run" / "checkpoints" / f"agent_epoch_{e}.pt") for e in (1, 2, 3)]
    for rank, seen in enumerate(outputs):
        assert seen["rank"] == rank
        assert seen["paths"] == expected_paths, "every rank gets the same path back"
        assert seen["epochs"] == [1, 2, 3], "rank 1's epoch-4 save must not have been written"
        assert seen["agent_writer"] == 0 and seen["w"] == [3.0, 3.0, 3.0]
        assert seen["trainer"] == {"writer": 0, "epoch": 3}
        assert seen["all_equal"] and seen["latest"] == ["run", 3]
    names = sorted(p.name for p in (base / "run" / "checkpoints").iterdir())
    assert names == [f"{kind}_epoch_{e}.pt" for kind in ("agent", "trainer") for e in (1, 2, 3)]
