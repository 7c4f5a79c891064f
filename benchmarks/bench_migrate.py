"""Benchmark: tinyckpt-migrate check / diff against ruff TID251, LibCST's own codemod runner and grep.

Generates a tree of >= 20,000 Python files (copies of the standard library, plus the example
legacy projects from fixtures/ mixed in), then times ONE run of each tool over it and prints a
table (wall seconds, files per second) and the ratios the project promises:

    check  faster than `ruff check --select TID251` (banned-api configured with the same names)
    diff   at least 20x faster than `python -m libcst.tool codemod` running the same rules

LibCST's runner parses every file (~15-30 files/s here), so by default it runs on a random sample
of files and its time is extrapolated (the printed table says so, and from how many files). A
second LibCST row runs a no-op command (parse and print only): the floor of any LibCST codemod run.

    .venv/bin/python benchmarks/bench_migrate.py [--out DIR] [--files 20000] [--libcst-sample 24] [--noop-sample 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SKIP = {"site-packages", "__pycache__", "dist-packages"}

sys.path.insert(0, str(REPO))
from codemods.config import DEFAULT_LEGACY_NAMES  # noqa: E402 (needs the sys.path line above)


def stdlib_files() -> list[Path]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for dirpath, dirnames, filenames in os.walk(lib):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP)
        found += [Path(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return found


def build_tree(tree: Path, target: int) -> int:
    """Copies of the stdlib's .py files (`stdlib_00/`, ...) until `target` files, plus the legacy examples."""
    marker = tree / ".bench-tree"
    if marker.exists() and int(marker.read_text()) >= target:
        return int(marker.read_text())
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    lib = Path(sysconfig.get_paths()["stdlib"])
    sources = stdlib_files()
    count = 0
    copy = 0
    while count < target:
        base = tree / f"stdlib_{copy:02d}"
        for src in sources:
            dst = base / src.relative_to(lib)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        count += len(sources)
        copy += 1
    for example in sorted((REPO / "fixtures").glob("legacy_*")):
        if example.is_dir() and not example.name.endswith("_expected"):
            shutil.copytree(example, tree / example.name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
            count += sum(1 for _ in (tree / example.name).rglob("*.py"))
    marker.write_text(str(count))
    return count


def legacy_words() -> list[str]:
    classes = {qn.rpartition(".")[2] for qn in DEFAULT_LEGACY_NAMES}
    modules = {qn.rpartition(".")[0] for qn in DEFAULT_LEGACY_NAMES}
    return sorted(classes | modules)


def ruff_config(path: Path) -> Path:
    """banned-api with every legacy module and qualified name (what TID251 can express)."""
    banned = sorted(set(DEFAULT_LEGACY_NAMES) | {qn.rpartition(".")[0] for qn in DEFAULT_LEGACY_NAMES})
    lines = ["[lint.flake8-tidy-imports.banned-api]"]
    lines += [f'"{name}".msg = "legacy policy store: migrate to tinyckpt"' for name in banned]
    path.write_text("\n".join(lines) + "\n")
    return path


LIBCST_COMMAND = '''
"""Every registered tinyckpt-migrate rule, in registry order, as ONE LibCST codemod (for the benchmark)."""
from libcst.codemod import CodemodCommand
from codemods.rules import RULES


class AllRules(CodemodCommand):
    DESCRIPTION = "all tinyckpt-migrate rules"

    def transform_module_impl(self, tree):
        for rule in RULES:
            tree = rule(self.context).transform_module(tree)
        return tree


class Noop(CodemodCommand):
    DESCRIPTION = "parse and print only: the floor of any LibCST codemod run"

    def transform_module_impl(self, tree):
        return tree
'''


CPU: dict[str, float] = {}  # label -> CPU seconds (user + sys of the tool and its worker processes)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
          label: str | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one run (and, under `label`, its CPU seconds: steadier on a loaded machine)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - start
    if label:
        CPU[label] = _children_cpu() - cpu
    return wall, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="work directory (default: a new temporary directory)")
    parser.add_argument("--files", type=int, default=20_000, help="at least this many Python files (default 20000)")
    parser.add_argument("--libcst-sample", type=int, default=24,
                        help="files to run LibCST's runner (all rules) on, extrapolated to the tree (0 = whole tree)")
    parser.add_argument("--noop-sample", type=int, default=400,
                        help="files to run LibCST's runner with a no-op command on (0 = whole tree)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_migrate_"))
    out.mkdir(parents=True, exist_ok=True)
    tree = out / "tree"
    t0 = time.perf_counter()
    total = build_tree(tree, args.files)
    print(f"tree: {tree} ({total} Python files, built in {time.perf_counter() - t0:.0f} s)", flush=True)
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PYTHONPATH", None)
    rows: list[tuple[str, float, int, str]] = []

    tool = [str(BIN / "tinyckpt-migrate")]
    secs, proc = timed([*tool, "check", "--format", "json", "--jobs", str(args.jobs), str(tree)], env=env,
                       label="tinyckpt-migrate check")
    data = json.loads(proc.stdout or b"{}")
    rows.append(("tinyckpt-migrate check", secs, total,
                 f"exit {proc.returncode}; {len(data.get('findings', []))} findings in {data.get('files_scanned')} files"))
    print(rows[-1], flush=True)

    secs, proc = timed([*tool, "diff", "--format", "json", "--jobs", str(args.jobs), str(tree)], env=env,
                       label="tinyckpt-migrate diff")
    data = json.loads(proc.stdout or b"{}")
    rows.append(("tinyckpt-migrate diff", secs, total,
                 f"exit {proc.returncode}; {len(data.get('files_changed', []))} changed, "
                 f"{len(data.get('files_deleted', []))} deleted, {len(data.get('sites', []))} sites"))
    print(rows[-1], flush=True)

    ruff = shutil.which("ruff", path=str(BIN)) or shutil.which("ruff")
    if ruff:
        config = ruff_config(out / "ruff-bench.toml")
        version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
        secs, proc = timed([ruff, "check", "--no-cache", "--config", str(config), "--select", "TID251",
                            "--output-format", "concise", "--exit-zero", str(tree)], env=env,
                           label="ruff check --select TID251")
        hits = sum(1 for line in proc.stdout.decode(errors="replace").splitlines() if "TID251" in line)
        rows.append(("ruff check --select TID251", secs, total, f"{version}; {hits} TID251 findings"))
        print(rows[-1], flush=True)

    files = sorted(str(p) for p in tree.rglob("*.py"))
    cfg = out / "libcst_cfg"
    cfg.mkdir(exist_ok=True)
    (cfg / "bench_allrules.py").write_text(textwrap.dedent(LIBCST_COMMAND))
    (cfg / ".libcst.codemod.yaml").write_text(
        "generated_code_marker: '@generated'\nformatter: []\nblacklisted_patterns: []\nmodules: []\nrepo_root: '.'\n")
    lenv = dict(env, PYTHONPATH=os.pathsep.join([str(cfg), str(REPO)]))
    one = out / "libcst_one"
    shutil.rmtree(one, ignore_errors=True)
    one.mkdir()
    (one / "m.py").write_text("x = 1\n")
    for command, label, sample in (("AllRules", "python -m libcst.tool codemod (all rules)", args.libcst_sample),
                                   ("Noop", "python -m libcst.tool codemod (no-op: parse + print)", args.noop_sample)):
        libcst = [sys.executable, "-m", "libcst.tool", "codemod", "-x", f"bench_allrules.{command}", "-j",
                  str(args.jobs), "--hide-progress", "--no-format", "--unified-diff", "3"]
        sample_n = sample if 0 < sample < len(files) else len(files)
        if sample_n < len(files):
            sample_dir = out / f"libcst_sample_{command}"
            shutil.rmtree(sample_dir, ignore_errors=True)
            for n, src in enumerate(random.Random(sample_n).sample(files, sample_n)):
                dst = sample_dir / f"{n:05d}" / os.path.relpath(src, tree)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
            startup, _ = timed([*libcst, str(one)], cwd=cfg, env=lenv, label="startup")
            secs, proc = timed([*libcst, str(sample_dir)], cwd=cfg, env=lenv, label="sample")
            per_file = max(secs - startup, 0.0) / sample_n
            CPU[label] = CPU["startup"] + max(CPU["sample"] - CPU["startup"], 0.0) / sample_n * len(files)
            rows.append((label, startup + per_file * len(files), total,
                         f"EXTRAPOLATED from a random sample of {sample_n} files ({secs:.1f} s, start-up "
                         f"{startup:.1f} s, {sample_n / max(secs - startup, 1e-9):.2f} files/s); exit {proc.returncode}"))
        else:
            secs, proc = timed([*libcst, str(tree)], cwd=cfg, env=lenv, label=label)
            rows.append((label, secs, total, f"whole tree; exit {proc.returncode}"))
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-4:]
        print(rows[-1], *tail, sep="\n  ", flush=True)

    pattern = "|".join(re.escape(w) for w in legacy_words())
    secs, proc = timed(["grep", "-rlE", "--include=*.py", pattern, str(tree)], env=env,
                       label="grep -rlE (legacy names)")
    rows.append(("grep -rlE (legacy names)", secs, total, f"{len(proc.stdout.splitlines())} files match"))

    print()
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, --jobs {args.jobs}, "
          f"{total} files, load average at the end {os.getloadavg()[0]:.1f}")
    print()
    print("| tool | wall time (s) | CPU time (s) | files/s (wall) | notes |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, secs, n, note in rows:
        print(f"| `{name}` | {secs:.2f} | {CPU.get(name, float('nan')):.2f} | {n / secs:,.0f} | {note} |")
    wall = {name: secs for name, secs, _, _ in rows}
    print()
    print("ratios (wall / CPU):")

    def ratio(a: str, b: str, target: str) -> None:
        if a in wall and b in wall:
            print(f"  {a} / {b}: {wall[a] / wall[b]:.1f}x / {CPU[a] / CPU[b]:.1f}x  {target}")

    ratio("ruff check --select TID251", "tinyckpt-migrate check", "(target > 1: check faster than ruff)")
    ratio("python -m libcst.tool codemod (all rules)", "tinyckpt-migrate diff", "(target >= 20)")
    ratio("python -m libcst.tool codemod (no-op: parse + print)", "tinyckpt-migrate diff", "")
    ratio("tinyckpt-migrate check", "grep -rlE (legacy names)", "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
