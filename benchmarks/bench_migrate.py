#!/usr/bin/env python3
"""Benchmark `tinyckpt-migrate` on a big tree and on a generated training repository.

Two parts (`--only tree`, `--only repo`; both by default). Every command runs once, in its own
wrapper process (benchmarks/_measure.py): wall time, CPU time (user + system of the command and all
its worker processes), peak RSS; each run is bounded by `--timeout` (the process group is killed,
and the table says "> N (killed)"). Ratios are computed from numbers measured in the same run.

tree: copies of the standard library's `.py` files until `--files` (default 20,000: 12 copies,
  21,536 files with the two example projects from fixtures/ mixed in; their 30-odd legacy files
  are the only ones with something to migrate). Times, over the whole tree:
    tinyckpt-migrate check --format json      vs  ruff check --select TID251 (banned-api: every
                                                  legacy module and qualified name)
    tinyckpt-migrate diff --format json       vs  LibCST's own runner with its no-op command,
        python -m libcst.tool codemod --no-format --jobs=N --hide-progress noop.NOOPCommand
        run on a random sample of `--noop-sample` files and extrapolated to the tree (start-up
        measured separately on a one-file directory)
    grep -rlE (legacy class and module names)  for scale
  Targets (issue 11): diff <= 30 s wall and >= 20x faster than the extrapolated no-op runner;
  check faster than ruff.

repo: a project from benchmarks/make_training_repo.py (`--repo-files`, `--repo-legacy`,
  `--repo-seed`), then
    python -m libcst.tool codemod ... noop.NOOPCommand   over the whole project (reference)
    tinyckpt-migrate diff --format json                  on the project as generated
    tinyckpt-migrate apply --format json                 on a fresh copy: git init, commit, apply
    tinyckpt-migrate apply --format json  (again)        after committing the first apply's result
    tinyckpt-migrate check --format json                 on the result
  with the changed / deleted / site counts parsed from the JSON outputs, and checks of the
  result: every file still parses, names pyflakes finds undefined after the migration that it did
  not before, what the second apply changed (`git status`), and with `--project-tests` the
  generated project's own pytest suite before and after the migration.
  Targets (issue 11): apply <= 30 s; the second apply changes nothing and takes <= 10 s.

    .venv/bin/python benchmarks/bench_migrate.py [--only tree|repo] [--timeout 900] [--files 20000]
        [--noop-sample 150] [--repo-files 600] [--repo-legacy 35] [--repo-seed 0] [--project-tests]
        [--jobs N] [--out DIR]

Uses only the command line of the tool (so it runs unchanged against a redesigned engine).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Result, command_line, header, measure

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SKIP = {"site-packages", "__pycache__", "dist-packages"}

#: The default legacy names (shared/legacy-api.md): qualified name -> class. Kept here, not imported
#: from the engine, so that the benchmark does not depend on the engine's internals.
LEGACY_NAMES = {
    "metta.agent.policy_store.PolicyStore": "PolicyStore",
    "metta.agent.policy_store.PolicySelectorConfig": "PolicySelectorConfig",
    "metta.agent.policy_store.PolicySelectorType": "PolicySelectorType",
    "metta.agent.policy_store.PolicyMissingError": "PolicyMissingError",
    "metta.agent.policy_store.PolicyRecord": "PolicyRecord",
    "metta.agent.policy_record.PolicyRecord": "PolicyRecord",
    "metta.agent.policy_metadata.PolicyMetadata": "PolicyMetadata",
    "metta.agent.policy_cache.PolicyCache": "PolicyCache",
    "metta.agent.mocks.MockPolicyRecord": "MockPolicyRecord",
    "metta.agent.mocks.mock_policy_record.MockPolicyRecord": "MockPolicyRecord",
    "metta.rl.simple_checkpoint_manager.SimpleCheckpointManager": "SimpleCheckpointManager",
    "metta.sim.simple_policy_store.SimplePolicyStore": "SimplePolicyStore",
    "metta.sim.policy_wrapper.PolicyWrapper": "PolicyWrapper",
    "metta.sim.policy_wrapper.PolicyRecord": "PolicyWrapper",
    "metta.rl.trainer_checkpoint.TrainerCheckpoint": "TrainerCheckpoint",
}

LIBCST_CONFIG = ("generated_code_marker: '@generated'\nformatter: []\nblacklisted_patterns: []\n"
                 "modules:\n- 'libcst.codemod.commands'\nrepo_root: '.'\n")


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- the tree -----------------------------------------------------------------------------------------

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
    if marker.exists() and marker.read_text().split()[1:] == [str(target)]:
        return int(marker.read_text().split()[0])
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
    marker.write_text(f"{count} {target}")
    return count


def legacy_words() -> list[str]:
    classes = {qn.rpartition(".")[2] for qn in LEGACY_NAMES}
    modules = {qn.rpartition(".")[0] for qn in LEGACY_NAMES}
    return sorted(classes | modules)


def ruff_config(path: Path) -> Path:
    """banned-api with every legacy module and qualified name (what TID251 can express)."""
    banned = sorted(set(LEGACY_NAMES) | {qn.rpartition(".")[0] for qn in LEGACY_NAMES})
    lines = ["[lint.flake8-tidy-imports.banned-api]"]
    lines += [f'"{name}".msg = "legacy policy store: migrate to tinyckpt"' for name in banned]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- helpers ------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace, out: Path):
        self.args, self.out = args, out
        self.env = dict(os.environ, NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
        self.env.pop("PYTHONPATH", None)
        self.tool = [str(BIN / "tinyckpt-migrate")]
        helptext = subprocess.run([*self.tool, "diff", "--help"], capture_output=True, text=True, env=self.env).stdout
        self.jobs = ["--jobs", str(args.jobs)] if "--jobs" in helptext else []
        self.libcst_cfg = out / "libcst_cfg"
        self.libcst_cfg.mkdir(parents=True, exist_ok=True)
        (self.libcst_cfg / ".libcst.codemod.yaml").write_text(LIBCST_CONFIG)

    def run(self, label: str, cmd: list[str], cwd: Path | None = None, timeout: float | None = None) -> Result:
        log(f"[{time.strftime('%H:%M:%S')}] {label}: {' '.join(map(str, cmd))}")
        result = measure(cmd, timeout=timeout or self.args.timeout, cwd=cwd, env=self.env)
        log(f"    {result.status()}, wall {result.wall_text()} s, CPU {result.cpu_text()} s, "
            f"peak RSS {result.maxrss_kb / 1024:.0f} MB, load {result.load_after[0]:.2f}")
        return result

    def libcst_noop(self, label: str, root: Path, files: list[str], sample: int) -> tuple[Result, float, float, str]:
        """(last Result, wall, CPU, note): the no-op runner over `files`, sampled and extrapolated when
        `sample` is smaller than the number of files."""
        cmd = [sys.executable, "-m", "libcst.tool", "codemod", "--no-format", f"--jobs={self.args.jobs}",
               "--hide-progress", "noop.NOOPCommand"]
        n = len(files)
        if 0 < sample < n:
            sample_dir = self.out / f"libcst_sample_{label}"
            shutil.rmtree(sample_dir, ignore_errors=True)
            for i, src in enumerate(random.Random(sample).sample(files, sample)):
                dst = sample_dir / f"{i:05d}" / os.path.relpath(src, root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
            one = self.out / "libcst_one"
            shutil.rmtree(one, ignore_errors=True)
            one.mkdir()
            (one / "m.py").write_text("x = 1\n")
            startup = self.run(f"{label}: LibCST no-op start-up (1 file)", [*cmd, str(one)], cwd=self.libcst_cfg)
            part = self.run(f"{label}: LibCST no-op on {sample} sampled files", [*cmd, str(sample_dir)],
                            cwd=self.libcst_cfg)
            if not part.finished:
                return part, float("nan"), float("nan"), f"sample run {part.status()}"
            per_wall = max(part.wall - startup.wall, 0.0) / sample
            per_cpu = max(part.cpu - startup.cpu, 0.0) / sample
            note = (f"**extrapolated** from a random sample of {sample} files ({part.wall:.1f} s wall, "
                    f"{part.cpu:.1f} s CPU; start-up {startup.wall:.1f} s), {part.status()}{libcst_failures(part)}")
            return part, startup.wall + per_wall * n, startup.cpu + per_cpu * n, note
        whole = self.run(f"{label}: LibCST no-op on all {n} files", [*cmd, str(root)], cwd=self.libcst_cfg)
        return whole, whole.wall, whole.cpu, f"all {n} files, {whole.status()}{libcst_failures(whole)}"


def libcst_failures(result: Result) -> str:
    """LibCST's runner exits 1 when a file fails (the stdlib has deliberately broken test files)."""
    match = re.search(rb"Failed to codemod (\d+) files", result.stderr)
    return f" ({int(match.group(1))} files LibCST could not parse)" if match and int(match.group(1)) else ""


def parse_json(result: Result) -> dict | None:
    if not result.finished:
        return None
    try:
        return json.loads(result.stdout or b"{}")
    except json.JSONDecodeError:
        return None


def counts(data: dict | None) -> dict[str, object]:
    if data is None:
        return {}
    sites = data.get("sites", [])
    return {"changed": len(data.get("files_changed", [])), "deleted": len(data.get("files_deleted", [])),
            "migrated": sum(1 for s in sites if s.get("outcome") == "migrated"),
            "manual": sum(1 for s in sites if s.get("outcome") == "manual"),
            "errors": data.get("errors", [])}


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f}"


def ratio(a: float, b: float, a_killed: bool = False, b_killed: bool = False) -> str:
    """a / b, as a bound when one side was killed (its time is then a lower bound)."""
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "n/a"
    if a_killed and b_killed:
        return "n/a (both killed)"
    value = a / b
    return f"< {value:,.1f}x" if b_killed else f"> {value:,.1f}x" if a_killed else f"{value:,.1f}x"


# -- part 1: the big tree -----------------------------------------------------------------------------

def part_tree(bench: Bench) -> list[str]:
    args, out = bench.args, bench.out
    tree = out / "tree"
    t0 = time.perf_counter()
    total = build_tree(tree, args.files)
    log(f"tree: {tree} ({total} Python files, ready in {time.perf_counter() - t0:.0f} s)")
    rows: list[tuple[str, str, str, str, str, str]] = []  # name, wall, cpu, files/s, rss, notes

    def row(name: str, r: Result, note: str) -> None:
        rate = f"{total / r.wall:,.0f}" if r.finished and r.wall else "-"
        rows.append((name, r.wall_text(), r.cpu_text(), rate, mb(r.maxrss_kb), note))

    check = bench.run("tree: check", [*bench.tool, "check", "--format", "json", *bench.jobs, str(tree)], cwd=out)
    data = parse_json(check)
    row("`tinyckpt-migrate check --format json`", check,
        f"{check.status()}; {len(data.get('findings', []))} findings in {data.get('files_scanned')} files"
        if data else check.status())

    diff = bench.run("tree: diff", [*bench.tool, "diff", "--format", "json", *bench.jobs, str(tree)], cwd=out)
    c = counts(parse_json(diff))
    row("`tinyckpt-migrate diff --format json`", diff,
        f"{diff.status()}; {c['changed']} changed, {c['deleted']} deleted, {c['migrated']} migrated + "
        f"{c['manual']} manual sites, {len(c['errors'])} errors" if c else diff.status())

    ruff_bin = shutil.which("ruff", path=str(BIN)) or shutil.which("ruff")
    ruff = None
    if ruff_bin:
        config = ruff_config(out / "ruff-bench.toml")
        version = subprocess.run([ruff_bin, "--version"], capture_output=True, text=True).stdout.strip()
        ruff = bench.run("tree: ruff", [ruff_bin, "check", "--no-cache", "--config", str(config), "--select", "TID251",
                                        "--output-format", "concise", "--exit-zero", str(tree)], cwd=out)
        hits = sum(1 for line in ruff.stdout.decode(errors="replace").splitlines() if "TID251" in line)
        row("`ruff check --select TID251` (banned-api: every legacy module and name)", ruff,
            f"{version}; {ruff.status()}; {hits} findings")

    files = sorted(str(p) for p in tree.rglob("*.py"))
    noop, noop_wall, noop_cpu, note = bench.libcst_noop("tree", tree, files, args.noop_sample)
    rows.append((f"`python -m libcst.tool codemod --no-format --jobs={args.jobs} --hide-progress noop.NOOPCommand`",
                 f"{noop_wall:,.1f}", f"{noop_cpu:,.1f}", "-" if math.isnan(noop_wall) else f"{total / noop_wall:,.1f}",
                 mb(noop.maxrss_kb), note))

    pattern = "|".join(re.escape(w) for w in legacy_words())
    grep = bench.run("tree: grep", ["grep", "-rlE", "--include=*.py", pattern, str(tree)], cwd=out)
    row("`grep -rlE` (legacy class and module names)", grep,
        f"{len(grep.stdout.splitlines())} files match")

    lines = ["### The tree", "", f"{total:,} Python files (copies of the standard library + the two example projects); "
             f"`--jobs {args.jobs}`; timeout per run {args.timeout:.0f} s.", "",
             "| command | wall (s) | CPU (s) | files/s (wall) | peak RSS (MB) | notes |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += ["", "Ratios (same run; wall / CPU):", ""]
    lines.append(f"- LibCST no-op runner (extrapolated) / `diff`: **{ratio(noop_wall, diff.wall, b_killed=diff.timed_out)}"
                 f"** / **{ratio(noop_cpu, diff.cpu, b_killed=diff.timed_out)}** (target >= 20x)")
    lines.append(f"- `diff` wall: **{diff.wall_text()} s** (target <= 30 s)")
    if ruff:
        lines.append(f"- ruff TID251 / `check`: **{ratio(ruff.wall, check.wall, ruff.timed_out, check.timed_out)}** / "
                     f"**{ratio(ruff.cpu, check.cpu, ruff.timed_out, check.timed_out)}** (target > 1: `check` faster than ruff)")
    lines.append(f"- `check` / grep: {ratio(check.wall, grep.wall, check.timed_out)} / {ratio(check.cpu, grep.cpu, check.timed_out)}")
    lines.append(f"- load average (1 min) before / after `diff`: {diff.load_before[0]:.2f} / {diff.load_after[0]:.2f}")
    return lines


# -- part 2: the generated training repository --------------------------------------------------------

def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                           "-c", "commit.gpgsign=false", "-C", str(repo), *argv],
                          capture_output=True, text=True, check=True).stdout


def py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if ".git" not in p.parts)


def unparsable(root: Path) -> list[str]:
    bad = []
    for path in py_files(root):
        try:
            ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError) as exc:
            bad.append(f"{path.relative_to(root)}:{getattr(exc, 'lineno', '?')}: {exc}")
    return bad


def undefined_names(root: Path) -> set[tuple[str, str]]:
    """(file, name) pairs pyflakes reports as undefined (line numbers left out: they move)."""
    pyflakes = BIN / "pyflakes"
    if not pyflakes.exists():
        return set()
    out = subprocess.run([str(pyflakes), "."], cwd=root, capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        match = re.match(r"(.+?):\d+:\d+:? undefined name '(\w+)'", line)
        if match:
            found.add((match.group(1).removeprefix("./"), match.group(2)))
    return found


def pytest_summary(result: Result) -> str:
    if result.timed_out:
        return result.status()
    tail = result.stdout.decode(errors="replace").strip().splitlines()
    last = tail[-1] if tail else ""
    return f"{last.strip('= ')} ({result.status()})"


def part_repo(bench: Bench) -> list[str]:
    args, out = bench.args, bench.out
    src = out / "repo_src"
    shutil.rmtree(src, ignore_errors=True)
    gen = subprocess.run([sys.executable, str(HERE / "make_training_repo.py"), str(src), "--files", str(args.repo_files),
                          "--legacy", str(args.repo_legacy), "--seed", str(args.repo_seed)],
                         capture_output=True, text=True, check=True)
    log(gen.stdout.strip())
    files = [str(p) for p in py_files(src)]
    total = len(files)
    notes: list[str] = []

    noop, noop_wall, noop_cpu, noop_note = bench.libcst_noop("repo", src, files, 0)
    diff = bench.run("repo: diff", [*bench.tool, "diff", "--format", "json", *bench.jobs, "."], cwd=src)
    diff_c = counts(parse_json(diff))

    work = out / "repo_apply"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src, work)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "generated training repository")
    undefined_before = undefined_names(work)

    apply1 = bench.run("repo: apply #1", [*bench.tool, "apply", "--format", "json", *bench.jobs, "."], cwd=work)
    a1 = counts(parse_json(apply1))
    apply2 = check = None
    a2: dict[str, object] = {}
    if apply1.finished:
        status = git(work, "status", "--porcelain").splitlines()
        notes.append(f"apply #1 left {len(status)} paths changed in `git status` "
                     f"({sum(1 for s in status if s.startswith((' D', 'D ')))} deleted)")
        bad = unparsable(work)
        notes.append(f"files that no longer parse after apply #1: {len(bad)}" + (f" (e.g. {'; '.join(bad[:3])})" if bad else ""))
        new_undefined = sorted(undefined_names(work) - undefined_before)
        notes.append(f"names pyflakes reports undefined after apply #1 but not before: {len(new_undefined)}"
                     + (" (e.g. " + ", ".join(f"`{n}` in {f}" for f, n in new_undefined[:6]) + ")" if new_undefined else ""))
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "tinyckpt-migrate apply", "--allow-empty")
        apply2 = bench.run("repo: apply #2", [*bench.tool, "apply", "--format", "json", *bench.jobs, "."], cwd=work)
        a2 = counts(parse_json(apply2))
        if apply2.finished:
            status2 = git(work, "status", "--porcelain").splitlines()
            notes.append(f"apply #2 changed {len(status2)} paths in `git status`"
                         + (f": {', '.join(s[3:] for s in status2[:8])}" if status2 else " (nothing: idempotent)"))
        check = bench.run("repo: check after apply", [*bench.tool, "check", "--format", "json", *bench.jobs, "."], cwd=work)
    else:
        notes.append("apply #1 did not finish: apply #2 and the checks of its result were skipped")

    if args.project_tests:
        pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore"]
        before = bench.run("repo: project tests before", pytest_cmd, cwd=src)
        notes.append(f"the generated project's tests before the migration: {pytest_summary(before)}")
        if apply1.finished:
            after = bench.run("repo: project tests after", pytest_cmd, cwd=work)
            notes.append(f"the same tests on the migrated project: {pytest_summary(after)}")
            if after.finished and after.returncode:
                failed = [line for line in after.stdout.decode(errors="replace").splitlines()
                          if line.startswith(("FAILED", "ERROR"))]
                if failed:
                    notes.append("first failures: " + "; ".join(f"`{line}`" for line in failed[:5]))

    def fmt(c: dict[str, object], key: str) -> str:
        return str(c[key]) if c else "-"

    def sites(c: dict[str, object]) -> str:
        return f"{c['migrated']} / {c['manual']}" if c else "-"

    def errs(c: dict[str, object]) -> str:
        return str(len(c["errors"])) if c else "-"

    lines = ["### The generated training repository", "",
             f"`make_training_repo.py --files {args.repo_files} --legacy {args.repo_legacy} --seed {args.repo_seed}`: "
             f"{total} Python files. `--jobs {args.jobs}`; timeout per run {args.timeout:.0f} s.", "",
             "| step | wall (s) | CPU (s) | peak RSS (MB) | changed | deleted | sites migrated / manual | errors | notes |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
             f"| LibCST no-op runner, whole project | {noop_wall:.2f} | {noop_cpu:.2f} | {mb(noop.maxrss_kb)} | - | - | - | - | "
             f"{noop_note} |",
             f"| `diff` (as generated) | {diff.wall_text()} | {diff.cpu_text()} | {mb(diff.maxrss_kb)} | {fmt(diff_c, 'changed')} | "
             f"{fmt(diff_c, 'deleted')} | {sites(diff_c)} | {errs(diff_c)} | {diff.status()} |",
             f"| `apply` #1 (fresh git commit) | {apply1.wall_text()} | {apply1.cpu_text()} | {mb(apply1.maxrss_kb)} | "
             f"{fmt(a1, 'changed')} | {fmt(a1, 'deleted')} | {sites(a1)} | {errs(a1)} | {apply1.status()} |"]
    if apply2:
        lines.append(f"| `apply` #2 (after committing #1) | {apply2.wall_text()} | {apply2.cpu_text()} | {mb(apply2.maxrss_kb)} | "
                     f"{fmt(a2, 'changed')} | {fmt(a2, 'deleted')} | {sites(a2)} | {errs(a2)} | {apply2.status()} |")
    if check:
        data = parse_json(check)
        found = f"{len(data.get('findings', []))} findings in {data.get('files_scanned')} files" if data else ""
        lines.append(f"| `check` (after apply) | {check.wall_text()} | {check.cpu_text()} | {mb(check.maxrss_kb)} | - | - | - | - | "
                     f"{check.status()}; {found} |")
    lines += ["", "Same-run ratios and targets:", "",
              f"- `apply` #1: **{apply1.wall_text()} s** wall (target <= 30 s); "
              f"`apply` #1 / LibCST no-op over the project: {ratio(apply1.wall, noop_wall, apply1.timed_out)} wall, "
              f"{ratio(apply1.cpu, noop_cpu, apply1.timed_out)} CPU",
              f"- `diff` / LibCST no-op over the project: {ratio(diff.wall, noop_wall, diff.timed_out)} wall, "
              f"{ratio(diff.cpu, noop_cpu, diff.timed_out)} CPU"]
    if apply2:
        changed2 = a2.get("changed", "-") if a2 else "-"
        lines.append(f"- `apply` #2: **{apply2.wall_text()} s** wall (target <= 10 s), files changed: **{changed2}** (target 0)")
    lines.append(f"- load average (1 min) before / after `apply` #1: {apply1.load_before[0]:.2f} / {apply1.load_after[0]:.2f}")
    lines += ["", "Checks of the result:", ""] + [f"- {n}" for n in notes]
    if diff_c and diff_c["errors"]:
        lines.append(f"- `diff` errors (first 5): {json.dumps(diff_c['errors'][:5])}")
    if a1 and a1["errors"]:
        lines.append(f"- `apply` #1 errors (first 5): {json.dumps(a1['errors'][:5])}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=("tree", "repo"), help="run only this part (repeatable)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "tinyckpt-bench" / "migrate",
                        help="work directory, outside any git checkout (default: %(default)s; the tree is reused)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run before it is killed (default 900)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes for every tool")
    parser.add_argument("--files", type=int, default=20_000, help="tree: at least this many stdlib files (default 20000)")
    parser.add_argument("--noop-sample", type=int, default=150,
                        help="tree: files the LibCST no-op runner parses, extrapolated to the tree (0 = whole tree)")
    parser.add_argument("--repo-files", type=int, default=600)
    parser.add_argument("--repo-legacy", type=int, default=35)
    parser.add_argument("--repo-seed", type=int, default=0)
    parser.add_argument("--project-tests", action="store_true",
                        help="repo: also run the generated project's pytest suite before and after the migration")
    args = parser.parse_args()
    parts = args.only or ["tree", "repo"]
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["git", "-C", str(out), "rev-parse"], capture_output=True).returncode == 0:
        log(f"warning: {out} is inside a git checkout; tools that honour .gitignore may skip files")
    out.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, out)
    started = time.perf_counter()
    report = ["## tinyckpt-migrate benchmark", "", *header(sys.executable), f"- command: `{command_line()}`", ""]
    if "tree" in parts:
        report += part_tree(bench) + [""]
    if "repo" in parts:
        report += part_repo(bench) + [""]
    load = os.getloadavg()
    report.append(f"Load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; "
                  f"the whole benchmark took {time.perf_counter() - started:,.0f} s.")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
