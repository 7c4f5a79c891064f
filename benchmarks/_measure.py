#!/usr/bin/env python3
"""Measure one command: wall time, CPU time, peak memory; bounded by a timeout and a memory cap.

The bench_*.py scripts call `measure(cmd, ...)`, which runs this file as a small wrapper process
around the command, so that every figure covers that command alone:

- CPU time is user + system time of the command AND every process it started (worker pools
  included): the wrapper makes itself a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`), so even
  workers orphaned by a kill are reaped by it and counted in its `RUSAGE_CHILDREN`;
- peak RSS is `ru_maxrss` of `RUSAGE_CHILDREN` (the largest single process), plus the largest sum
  of the RSS of all the command's processes seen by sampling /proc every 0.2 s;
- `timeout`: the command runs in its own session; past the timeout the whole process group is
  killed (SIGKILL) and the result says so ("> N s (killed)");
- `mem_limit`: an address-space cap (`RLIMIT_AS`, inherited by workers); a result whose stderr
  shows an allocation failure is marked `mem_limit_hit`.

Runnable alone, e.g. `python benchmarks/_measure.py --timeout 60 -- tinyckpt-migrate diff .`
(prints the result as JSON).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve()
PAGE = os.sysconf("SC_PAGE_SIZE")
ALLOC_FAILURES = ("MemoryError", "Cannot allocate memory", "bad_alloc", "memory allocation of",
                  "out of memory", "Out of memory")


@dataclass
class Result:
    cmd: list[str]
    wall: float = 0.0
    user: float = 0.0
    sys: float = 0.0
    maxrss_kb: int = 0  # largest single process (ru_maxrss)
    peak_rss_sum_kb: int = 0  # largest sampled sum over the command's processes
    returncode: int | None = None
    timed_out: bool = False
    timeout: float | None = None
    mem_limit: int | None = None
    mem_limit_hit: bool = False
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    stdout: bytes = field(default=b"", repr=False)
    stderr: bytes = field(default=b"", repr=False)

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    @property
    def finished(self) -> bool:
        return not self.timed_out and not self.mem_limit_hit

    def wall_text(self) -> str:
        if self.timed_out:
            return f"> {self.timeout:.0f} (killed)"
        return f"{self.wall:.2f}"

    def cpu_text(self) -> str:
        return f">= {self.cpu:.1f}" if self.timed_out else f"{self.cpu:.2f}"

    def status(self) -> str:
        if self.timed_out:
            return f"did not finish in {self.timeout:.0f} s (killed)"
        if self.mem_limit_hit:
            return f"memory cap of {self.mem_limit / 2**30:.1f} GB hit (exit {self.returncode})"
        return f"exit {self.returncode}"


def _session_rss_kb(sid: int) -> int:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): session is field 6, rss (pages) field 24
        if int(fields[3]) == sid:
            total += int(fields[21]) * PAGE // 1024
    return total


def _set_subreaper() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: orphaned workers of a killed run are then not counted


def _wrapper(args: argparse.Namespace) -> int:
    _set_subreaper()
    limit = args.mem_limit

    def preexec() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = Result(cmd=args.cmd, timeout=args.timeout, mem_limit=limit, load_before=os.getloadavg())
    with open(args.stdout, "wb") as out, open(args.stderr, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args.cmd, cwd=args.cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=preexec)
        while True:
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            result.peak_rss_sum_kb = max(result.peak_rss_sum_kb, _session_rss_kb(proc.pid))
            if args.timeout and time.perf_counter() - start > args.timeout:
                result.timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                break
        result.wall = time.perf_counter() - start
        result.returncode = proc.returncode
        try:  # leftovers of the group (none when the command waits for its workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        while True:  # reap everything we inherited as subreaper, so RUSAGE_CHILDREN counts it
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.user, result.sys, result.maxrss_kb = usage.ru_utime, usage.ru_stime, usage.ru_maxrss
    result.load_after = os.getloadavg()
    data = asdict(result)
    data.pop("stdout"), data.pop("stderr")
    Path(args.out).write_text(json.dumps(data))
    return 0


def measure(cmd: list[str], *, timeout: float | None = None, mem_limit: int | None = None,
            cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Result:
    """Run `cmd` under the wrapper; returns its Result (stdout/stderr included)."""
    with tempfile.TemporaryDirectory(prefix="measure_") as tmp:
        out, so, se = Path(tmp, "result.json"), Path(tmp, "stdout"), Path(tmp, "stderr")
        wrapper = [sys.executable, str(HERE), "--out", str(out), "--stdout", str(so), "--stderr", str(se)]
        if timeout:
            wrapper += ["--timeout", str(timeout)]
        if mem_limit:
            wrapper += ["--mem-limit", str(mem_limit)]
        if cwd:
            wrapper += ["--cwd", str(cwd)]
        subprocess.run([*wrapper, "--", *map(str, cmd)], env=env, check=True)
        data = json.loads(out.read_text())
        data["load_before"], data["load_after"] = tuple(data["load_before"]), tuple(data["load_after"])
        result = Result(**data)
        result.stdout, result.stderr = so.read_bytes(), se.read_bytes()
    if mem_limit and not result.timed_out and result.returncode != 0:
        text = (result.stderr + result.stdout[-20000:]).decode(errors="replace")
        result.mem_limit_hit = any(marker in text for marker in ALLOC_FAILURES)
    return result


# -- what every report starts with --------------------------------------------------------------------

def git_commit(path: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        branch = subprocess.run(["git", "-C", str(path), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        return f"{head} ({branch}{', uncommitted changes' if dirty else ''})"
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def engine_location(python: str) -> Path:
    """Where the `codemods` package that `python` (the venv's) imports lives."""
    out = subprocess.run([python, "-c", "import codemods, os; print(os.path.dirname(os.path.dirname(codemods.__file__)))"],
                         capture_output=True, text=True)
    return Path(out.stdout.strip() or ".")


def header(python: str) -> list[str]:
    """Markdown lines: date, engine commit, machine, load average now."""
    engine = engine_location(python)
    load = os.getloadavg()
    return [f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- engine: `codemods` from `{engine}`, commit {git_commit(engine)}",
            f"- machine: {platform.python_implementation()} {platform.python_version()}, {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} cores",
            f"- load average at the start (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"]


def command_line() -> str:
    """This run's command line, the interpreter relative to the current directory when it is below it."""
    exe = os.path.relpath(sys.executable)
    return shlex.join([exe if not exe.startswith("..") else sys.executable, *sys.argv])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the result here (JSON); default: print it (wrapper mode needs it)")
    parser.add_argument("--stdout", default=os.devnull)
    parser.add_argument("--stderr", default=os.devnull)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--mem-limit", type=int, help="address-space cap in bytes")
    parser.add_argument("--cwd")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if not args.cmd:
        parser.error("no command")
    if args.out:
        return _wrapper(args)
    result = measure(args.cmd, timeout=args.timeout, mem_limit=args.mem_limit, cwd=args.cwd)
    data = asdict(result)
    data.pop("stdout"), data.pop("stderr")
    print(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
