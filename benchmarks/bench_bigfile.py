#!/usr/bin/env python3
"""A big module with one legacy site: `tinyckpt-migrate diff` against LibCST's own parse + analysis.

The module is `LEGACY` (a SimpleCheckpointManager construction and `load_agent()`) followed by
`_big_module(size)`: both copied verbatim from tests/test_bytes.py (copied, not imported, so the
benchmark does not depend on the test suite's imports); `--size` MB (default 5). It is written
as `module.py` into a directory of its own with a `pyproject.toml`. Then, each in a SEPARATE
process under benchmarks/_measure.py (wall, CPU of the process and its workers, peak RSS from
`ru_maxrss`, an address-space cap of `--mem-limit-gb` via RLIMIT_AS, a timeout that kills the
process group):

  (a) LibCST alone: `libcst.parse_module(text)`, then
      `MetadataWrapper(tree, unsafe_skip_copy=True).resolve(ScopeProvider)` and `.resolve(PositionProvider)`
      (the floor of any LibCST rule that needs scopes and positions);
  (b) `tinyckpt-migrate diff --format json DIR`.

Reports both and the ratios (b)/(a); targets (issue 11): (b) <= 1.5x (a) in time, peak memory
<= 2 GB. On this machine (a) needs about 100 s and 2 GB at 5 MB; `--size 1` is a quick check.

    .venv/bin/python benchmarks/bench_bigfile.py [--size 5] [--timeout 900] [--mem-limit-gb 6] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Result, command_line, header, measure

BIN = Path(sys.executable).parent

# -- copied from tests/test_bytes.py ------------------------------------------------------------------

LEGACY = (
    '"""Trainer entry point."""\n'
    "from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n"
    "\n"
    "\n"
    "def resume(run_name):\n"
    "    mgr = SimpleCheckpointManager(run_dir=f\"./train_dir/{run_name}\", run_name=run_name)\n"
    "    agent = mgr.load_agent()\n"
    "    return agent  # resumed\n"
)


def _big_module(size: int) -> str:
    """A generated module of about `size` bytes: functions, classes, long lines, unicode, tabs in strings."""
    rng = random.Random(7)
    parts = ['"""Generated: nothing legacy."""\n', "import math\n\n"]
    total, n = 0, 0
    while total < size:
        n += 1
        kind = n % 4
        if kind == 0:
            chunk = (f"\n\ndef f_{n}(a, b={n}, *args, key='k{n}', **kw):\n"
                     f"    '''Docstring {n}: ünïcödé, \\t tab.'''\n"
                     f"    total = sum(x * {n} for x in range(a) if x % 3)\n"
                     f"    return [total, b, key, math.pi]  # comment {n}\n")
        elif kind == 1:
            chunk = (f"\n\nclass C{n}:\n    value: int = {n}\n\n"
                     f"    def get(self) -> int:\n        return self.value + {rng.randint(0, 999)}\n")
        elif kind == 2:
            chunk = f"\nDATA_{n} = {{{', '.join(f'{i!r}: {rng.random()!r}' for i in range(rng.randint(5, 60)))}}}\n"
        else:
            chunk = f"\nif DATA_{n - 1}:\n    with open('f{n}') as fh:\n        text_{n} = fh.read()\nelse:\n    pass\n"
        parts.append(chunk)
        total += len(chunk)
    return "".join(parts)


# -- (a): LibCST alone, in a process of its own -------------------------------------------------------

LIBCST_ALONE = r'''
import json, sys, time
import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

text = open(sys.argv[1], encoding="utf-8").read()
t0 = time.perf_counter()
tree = cst.parse_module(text)
t1 = time.perf_counter()
wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
wrapper.resolve(ScopeProvider)
t2 = time.perf_counter()
wrapper.resolve(PositionProvider)
t3 = time.perf_counter()
print(json.dumps({"parse": t1 - t0, "scopes": t2 - t1, "positions": t3 - t2}))
'''


def row(name: str, r: Result) -> str:
    return (f"| {name} | {r.wall_text()} | {r.cpu_text()} | {r.maxrss_kb / 1024:,.0f} | {r.peak_rss_sum_kb / 1024:,.0f} | "
            f"{r.status()} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=float, default=5.0, help="module size in MB (default 5)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run before it is killed (default 900)")
    parser.add_argument("--mem-limit-gb", type=float, default=6.0, help="address-space cap per run (default 6 GB)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "tinyckpt-bench" / "bigfile",
                        help="work directory, outside any git checkout (default: %(default)s)")
    args = parser.parse_args()
    size = int(args.size * 1024 * 1024)
    limit = int(args.mem_limit_gb * 2**30)
    project = args.out.resolve() / f"project_{size}"
    project.mkdir(parents=True, exist_ok=True)
    module = project / "module.py"
    text = LEGACY + _big_module(size)
    if not module.exists() or module.read_text(encoding="utf-8") != text:
        module.write_text(text, encoding="utf-8")
    (project / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    script = args.out.resolve() / "libcst_alone.py"
    script.write_text(LIBCST_ALONE, encoding="utf-8")

    lines = ["## A big module with one legacy site", "", *header(sys.executable), f"- command: `{command_line()}`",
             f"- module: {len(text.encode()):,} bytes, {text.count(chr(10)):,} lines (`LEGACY` + `_big_module({size})` "
             f"from tests/test_bytes.py); timeout {args.timeout:.0f} s and address-space cap {args.mem_limit_gb:g} GB per run",
             ""]
    print(f"(a) LibCST alone on {module} ...", file=sys.stderr, flush=True)
    alone = measure([sys.executable, str(script), str(module)], timeout=args.timeout, mem_limit=limit)
    print(f"    {alone.status()}, {alone.wall_text()} s", file=sys.stderr, flush=True)
    print(f"(b) tinyckpt-migrate diff {project} ...", file=sys.stderr, flush=True)
    diff = measure([str(BIN / "tinyckpt-migrate"), "diff", "--format", "json", str(project)], timeout=args.timeout,
                   mem_limit=limit, cwd=project)
    print(f"    {diff.status()}, {diff.wall_text()} s", file=sys.stderr, flush=True)

    lines += ["| run | wall (s) | CPU (s) | peak RSS, largest process (MB) | peak RSS, all processes, sampled (MB) | status |",
              "| --- | ---: | ---: | ---: | ---: | --- |",
              row("(a) LibCST: `parse_module` + `ScopeProvider` + `PositionProvider`", alone),
              row("(b) `tinyckpt-migrate diff --format json`", diff), ""]
    phases = ""
    if alone.finished and alone.returncode == 0:
        try:
            p = json.loads(alone.stdout.decode().strip().splitlines()[-1])
            phases = f"(a) inside the process: parse {p['parse']:.1f} s, scopes {p['scopes']:.1f} s, positions {p['positions']:.1f} s."
        except (ValueError, IndexError, KeyError):
            pass
    found = ""
    errors = 0
    if diff.finished:
        try:
            data = json.loads(diff.stdout or b"{}")
            errors = len(data.get("errors", []))
            found = (f"`diff` reported {len(data.get('files_changed', []))} changed file(s), "
                     f"{len(data.get('sites', []))} site(s), {errors} error(s).")
        except json.JSONDecodeError:
            found = "`diff` printed no JSON."
    # (b) counts only when it did the job: finished, exit 0/1, no file it could not process
    ok = diff.finished and diff.returncode in (0, 1) and not errors
    if not ok:
        found += (" **(b) did not complete the migration**"
                  f" ({diff.status()}): stderr tail: `{' '.join(diff.stderr.decode(errors='replace').strip().splitlines()[-2:])[:300]}`")

    def bound(b: float, a: float) -> str:
        if not alone.finished:
            return "n/a ((a) did not finish)"
        value = b / a if a else float("nan")
        return f"{value:.2f}x" if ok else f">= {value:.1f}x (b) stopped early"

    lines += [f"Ratios (b)/(a), same run: wall **{bound(diff.wall, alone.wall)}**, CPU **{bound(diff.cpu, alone.cpu)}** "
              f"(target <= 1.5x); peak RSS **{bound(diff.maxrss_kb, alone.maxrss_kb)}**; (b) peak RSS "
              f"**{diff.maxrss_kb / 2**20:.2f} GB**{'' if ok else ' when it stopped'} (target <= 2 GB).",
              " ".join(x for x in (phases, found) if x),
              f"Load average (1 min) before / after (b): {diff.load_before[0]:.2f} / {diff.load_after[0]:.2f}."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
