#!/usr/bin/env python3
"""Benchmark tinyckpt against raw torch.save / torch.load (not a test; prints a Markdown table).

    .venv/bin/python benchmarks/bench_tinyckpt.py [--mb 100] [--repeats 21] [--dir DIR]

1. Save and load of a ~100 MB agent (an ``nn.Sequential`` of ``Linear`` layers, float32):
   ``TinyCheckpointManager.save_checkpoint`` vs ``torch.save(agent, path)`` and
   ``load_latest_agent()`` vs ``torch.load(path, weights_only=False)``. Raw and tinyckpt are
   timed back to back in each round, alternating which goes first; every save round writes fresh
   files (deleted after the round), loads are a separate phase. The table shows median wall-clock
   times and the medians of the per-round ratios tinyckpt / raw, of wall-clock time and of CPU
   time (user + system of this process: insensitive to other processes competing for the CPUs).
   tinyckpt offers no fsync, so there is no fsync row.
2. Finding the latest among 10,000 checkpoints: 10,000 empty files ``agent_epoch_<N>.pt`` in one
   checkpoints directory; medians of ``list_epochs()``, ``exists()`` and ``latest_checkpoint()``,
   wall-clock and, in brackets, CPU time of this process (which other busy processes on the
   machine inflate much less than wall-clock time).
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


def timed(fn) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of ``fn()``; freeing what it returns is not timed.

    CPU time is this process's user + system time: serializing, copying into the page cache and
    the file-system calls, but not the time other busy processes hold the CPUs.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del result
    return wall, cpu


def paired(raw_fn, tiny_fn, rounds: int, after_round=lambda i: None) -> tuple[list, list]:
    """Time raw_fn(i) and tiny_fn(i) back to back, ``rounds`` times, alternating which goes first,
    so that a burst of load from other processes hits both sides of a round's ratio."""
    raw, tiny = [], []
    for i in range(rounds + 1):  # round 0 warms up (page cache, allocator) and is dropped
        for side in (("raw", "tiny") if i % 2 else ("tiny", "raw")):
            if side == "raw":
                raw.append(timed(lambda i=i: raw_fn(i)))
            else:
                tiny.append(timed(lambda i=i: tiny_fn(i)))
        after_round(i)
    return raw[1:], tiny[1:]


def bench_save_load(root: Path, mb: int, repeats: int) -> dict:
    """Median save and load times, raw vs tinyckpt, and the medians of the per-round ratios
    (wall-clock and CPU time).

    Saves: every round writes fresh files (deleted after the round). Loads: a separate phase
    reading one file each, so loads are not disturbed by the deletion of just-written files.
    """
    agent = make_agent(mb)
    size = sum(p.numel() * p.element_size() for p in agent.parameters()) / 1e6
    mgr = TinyCheckpointManager("bench", root)
    raw_path = root / "raw.pt"

    def clean(_):
        raw_path.unlink()
        for f in mgr.checkpoint_dir.iterdir():
            f.unlink()

    runs = {"save": paired(lambda i: torch.save(agent, raw_path), lambda i: mgr.save_checkpoint(agent, i),
                           repeats, clean)}
    torch.save(agent, raw_path)
    mgr.save_checkpoint(agent, 0)
    runs["load"] = paired(lambda i: torch.load(raw_path, weights_only=False), lambda i: mgr.load_latest_agent(),
                          repeats)
    out = {"size_mb": size}
    for op, (raw, tiny) in runs.items():
        out[op] = {"raw": statistics.median(w for w, _ in raw), "tiny": statistics.median(w for w, _ in tiny),
                   "ratio": statistics.median(t[0] / r[0] for t, r in zip(tiny, raw)),
                   "cpu_ratio": statistics.median(t[1] / r[1] for t, r in zip(tiny, raw))}
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
        times = [timed(fn) for _ in range(repeats)]
        out[name] = (statistics.median(w for w, _ in times), statistics.median(c for _, c in times))
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
    print("| measurement | raw torch | tinyckpt | ratio (wall) | ratio (CPU) | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for op, target in (("save", "<= 1.10x"), ("load", "<= 1.00x (no slower)")):
        r = sl[op]
        print(f"| {op} {sl['size_mb']:.0f} MB agent | {r['raw'] * 1e3:.1f} ms | {r['tiny'] * 1e3:.1f} ms "
              f"| {r['ratio']:.3f}x | {r['cpu_ratio']:.3f}x | {target} |")
    print("| save with fsync | - | not offered | - | - | - |")
    for name, (wall, cpu) in lt.items():
        print(f"| {name}, {args.files:,} checkpoints | - | {wall * 1e3:.1f} ms (CPU {cpu * 1e3:.1f} ms) | - | - | < 25 ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
