#!/usr/bin/env python3
"""Benchmark tinyckpt against raw torch.save / torch.load (not a test; prints a Markdown table).

    .venv/bin/python benchmarks/bench_tinyckpt.py [--mb 100] [--repeats 21] [--dir DIR]

1. Save and load of a ~100 MB agent (an ``nn.Sequential`` of ``Linear`` layers, float32):
   ``TinyCheckpointManager.save_checkpoint`` vs ``torch.save(agent, path)`` and
   ``load_latest_agent()`` vs ``torch.load(path, weights_only=False)``. Raw and tinyckpt runs
   alternate within each round, each writes a fresh file, files are deleted after each round;
   the table shows median times and the median of the per-round ratios tinyckpt / raw.
   tinyckpt offers no fsync, so there is no fsync row.
2. Finding the latest among 10,000 checkpoints: 10,000 empty files ``agent_epoch_<N>.pt`` in one
   checkpoints directory; medians of ``list_epochs()``, ``exists()`` and ``latest_checkpoint()``.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from tinyckpt import TinyCheckpointManager, latest_checkpoint


def make_agent(mb: int) -> torch.nn.Module:
    """An nn.Module of about ``mb`` MB of float32 parameters (4 square Linear layers)."""
    side = int((mb * 1e6 / 4 / 4) ** 0.5)
    torch.manual_seed(0)
    return torch.nn.Sequential(*[torch.nn.Linear(side, side) for _ in range(4)])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_save_load(root: Path, mb: int, repeats: int) -> dict:
    """Medians of raw vs tinyckpt save and load times, and the median of the per-round ratios.

    Each round times raw and tinyckpt back to back (alternating who goes first), so a burst of
    load from other processes hits both sides of a ratio; the per-round ratios are what the
    targets are checked against.
    """
    agent = make_agent(mb)
    size = sum(p.numel() * p.element_size() for p in agent.parameters()) / 1e6
    mgr = TinyCheckpointManager("bench", root)
    raw_path = root / "raw.pt"
    t = {"raw_save": [], "tiny_save": [], "raw_load": [], "tiny_load": []}
    for i in range(repeats + 1):  # round 0 warms up (page cache, allocator) and is dropped
        order = ("raw", "tiny") if i % 2 else ("tiny", "raw")
        for who in order:
            if who == "raw":
                t["raw_save"].append(timed(lambda: torch.save(agent, raw_path)))
            else:
                t["tiny_save"].append(timed(lambda epoch=i: mgr.save_checkpoint(agent, epoch)))
        for who in order:
            if who == "raw":
                t["raw_load"].append(timed(lambda: torch.load(raw_path, weights_only=False)))
            else:
                t["tiny_load"].append(timed(lambda: mgr.load_latest_agent()))
        raw_path.unlink()
        for f in mgr.checkpoint_dir.iterdir():
            f.unlink()
    t = {k: v[1:] for k, v in t.items()}
    out = {"size_mb": size, **{k: statistics.median(v) for k, v in t.items()}}
    for op in ("save", "load"):
        out[f"{op}_ratio"] = statistics.median(a / b for a, b in zip(t[f"tiny_{op}"], t[f"raw_{op}"]))
    return out


def bench_latest(root: Path, n: int, repeats: int) -> dict:
    mgr = TinyCheckpointManager("many", root)
    mgr.checkpoint_dir.mkdir(parents=True)
    for e in range(n):
        (mgr.checkpoint_dir / f"agent_epoch_{e}.pt").touch()
    assert mgr.list_epochs()[-1] == n - 1
    assert latest_checkpoint(mgr.checkpoint_dir.parent).endswith(f"agent_epoch_{n - 1}.pt")
    out = {}
    for name, fn in (("list_epochs()", mgr.list_epochs), ("exists()", mgr.exists),
                     ("latest_checkpoint(run_dir)", lambda: latest_checkpoint(mgr.checkpoint_dir.parent))):
        fn()  # warm the directory cache
        out[name] = statistics.median(timed(fn) for _ in range(repeats))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="agent size in MB (default 100)")
    ap.add_argument("--repeats", type=int, default=21, help="timed rounds per measurement (default 21)")
    ap.add_argument("--files", type=int, default=10_000, help="checkpoints for the latest-of-N test")
    ap.add_argument("--dir", help="where to write (default: a temp dir); same file system as real runs")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench_tinyckpt-") as tmp:
        sl = bench_save_load(Path(tmp), args.mb, args.repeats)
        lt = bench_latest(Path(tmp), args.files, args.repeats)
    load = f" (load average {os.getloadavg()[0]:.1f})" if hasattr(os, "getloadavg") else ""
    print(f"torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} "
          f"{platform.machine()}, {os.cpu_count()} CPUs{load}; agent {sl['size_mb']:.0f} MB; "
          f"medians of {args.repeats} rounds\n")
    print("| measurement | raw torch | tinyckpt | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for what, target in (("save", "<= 1.10x"), ("load", "<= 1.00x (no slower)")):
        raw, tiny, ratio = sl[f"raw_{what}"], sl[f"tiny_{what}"], sl[f"{what}_ratio"]
        print(f"| {what} {sl['size_mb']:.0f} MB agent | {raw * 1e3:.1f} ms | {tiny * 1e3:.1f} ms "
              f"| {ratio:.3f}x | {target} |")
    print("| save with fsync | - | not offered | - | - |")
    for name, secs in lt.items():
        print(f"| {name}, {args.files:,} checkpoints | - | {secs * 1e3:.2f} ms | - | < 25 ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
