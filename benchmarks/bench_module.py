#!/usr/bin/env python3
"""Per-module cost of the migration engine on generated legacy-touching modules.

Draws `--modules` modules (default 200) from the property tests' strategy
(`tests/property_helpers/legacy_modules.py`, `legacy_modules()`) exactly as
`tests/test_properties.py::_draw_modules` does (hypothesis, derandomized, generate phase only), so
every run measures the same modules. Then, in this one process, times for each module what
`tests/test_properties.py::_migrate` does (what the runner does for one file):

    migrate_tree([(source, PATH, MODULE_NAME, PACKAGE_NAME)], config=CONFIG)  # (codemods.engine)

Drawing is not timed. Before timing, a small fixed legacy module (WARMUP, not one of the drawn
ones, so no same-source cache can favour a measured module) is migrated `--warmup` times (default
1), so one-off costs (lazy imports, first use of LibCST's parser) do not land on the first module. Reports wall and CPU time (`time.process_time`, this process)
per module: mean, median, p95, max, total; target (issue 11): <= 0.08 s per module.
`--budget` bounds the measuring time (SIGALRM): modules left when it runs out are reported as not
measured.

    .venv/bin/python benchmarks/bench_module.py [--modules 200] [--warmup 1] [--budget 900]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO), str(REPO / "tests")]

from _measure import command_line, header
from hypothesis import HealthCheck, Phase, given, settings
from property_helpers.legacy_modules import (
    MODULE_NAME,
    PACKAGE_NAME,
    GeneratedModule,
    legacy_modules,
)

from codemods.config import Config
from codemods.engine import migrate_tree

CONFIG = Config()
PATH = MODULE_NAME.replace(".", "/") + ".py"
#: migrated before timing (tests/test_bytes.py's LEGACY text): imports and first-use costs land here
WARMUP = (
    '"""Trainer entry point."""\n'
    "from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n\n\n"
    "def resume(run_name):\n"
    "    mgr = SimpleCheckpointManager(run_dir=f\"./train_dir/{run_name}\", run_name=run_name)\n"
    "    agent = mgr.load_agent()\n"
    "    return agent  # resumed\n"
)


def draw_modules(count: int) -> list[GeneratedModule]:
    """`count` generated legacy modules, the same every run (as tests/test_properties.py::_draw_modules)."""
    drawn: list[GeneratedModule] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(legacy_modules())
    def draw(module: GeneratedModule) -> None:
        drawn.append(module)

    draw()
    return drawn


def migrate(source: str):
    """What tests/test_properties.py::_migrate does (what the runner does for one file): one analysis,
    its own facts as the index, then every rule."""
    return migrate_tree([(source, PATH, MODULE_NAME, PACKAGE_NAME)], config=CONFIG)[0]


class OutOfBudget(Exception):
    pass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", type=int, default=200, help="modules to measure (default 200)")
    parser.add_argument("--warmup", type=int, default=1, help="migrations of WARMUP before timing (default 1)")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds of measuring before it stops (default 900)")
    args = parser.parse_args()

    lines = ["## Per-module cost (property-test modules)", "", *header(sys.executable), f"- command: `{command_line()}`"]
    t0 = time.perf_counter()
    measured_modules = draw_modules(args.modules)
    draw_secs = time.perf_counter() - t0
    print(f"drew {len(measured_modules)} modules in {draw_secs:.1f} s (not timed)", file=sys.stderr, flush=True)

    def alarm(signum, frame):
        raise OutOfBudget

    for _ in range(args.warmup):
        migrate(WARMUP)
    walls: list[float] = []
    cpus: list[float] = []
    errors = changed = migrated_sites = manual_sites = 0
    out_of_budget = False
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, args.budget)
    load_before = os.getloadavg()
    try:
        for i, module in enumerate(measured_modules):
            c0, w0 = time.process_time(), time.perf_counter()
            result = migrate(module.source)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
            errors += result.error is not None
            changed += bool(result.changed)
            migrated_sites += sum(1 for s in result.sites if s.outcome == "migrated")
            manual_sites += sum(1 for s in result.sites if s.outcome == "manual")
            if (i + 1) % 25 == 0:
                print(f"  {i + 1} modules, mean {statistics.mean(walls):.3f} s", file=sys.stderr, flush=True)
    except OutOfBudget:
        out_of_budget = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    load_after = os.getloadavg()

    n = len(walls)
    sizes = [m.source.count("\n") for m in measured_modules[:n]]
    lines += [f"- modules: {n} measured of {len(measured_modules)} drawn (`legacy_modules()`, derandomized; drawing "
              f"took {draw_secs:.1f} s, not timed); {args.warmup} warm-up migration(s) of a fixed module not counted; "
              f"{statistics.mean(sizes) if sizes else 0:.0f} lines per module on average",
              f"- load average (1 min) before / after measuring: {load_before[0]:.2f} / {load_after[0]:.2f}", ""]
    if out_of_budget:
        lines += [f"**Stopped after the {args.budget:.0f} s budget**: {len(measured_modules) - n} modules not measured.", ""]
    if not n:
        print("\n".join(lines))
        return 1
    lines += ["| per module | mean | median | p95 | max | total |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, values in (("wall (s)", walls), ("CPU (s)", cpus)):
        lines.append(f"| {name} | {statistics.mean(values):.3f} | {statistics.median(values):.3f} | "
                     f"{percentile(values, 0.95):.3f} | {max(values):.3f} | {sum(values):.1f} |")
    mean = statistics.mean(walls)
    lines += ["", f"Mean wall time per module: **{mean:.3f} s** (target <= 0.08 s: "
              f"{'met' if mean <= 0.08 else f'{mean / 0.08:.1f}x over'}); mean CPU {statistics.mean(cpus):.3f} s.",
              f"Outputs: {changed} of {n} modules changed, {migrated_sites} migrated and {manual_sites} manual sites, "
              f"{errors} modules with an error."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
