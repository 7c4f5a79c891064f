"""`apply` never breaks code it did not rewrite (issue 12): a PATH inside a project, several projects
under one PATH, and SIGTERM / SIGINT at random points of a run."""

from __future__ import annotations

import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from golden_helpers import FIXTURES, assert_same_tree, tree

from codemods import cli

ROOT = Path(__file__).resolve().parent.parent
COPY = shutil.ignore_patterns("__pycache__", ".pytest_cache")


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", PYTHONWARNINGS="ignore")
    return env


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_a_path_inside_a_project_leaves_the_rest_of_it_working(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`apply metta` on the full-legacy example: tests/ and tools/ (outside the PATH) still import, pass
    and call what they did; what the PATH shares with them stays legacy, and says why."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "legacy_full", root, ignore=COPY)
    before = tree(root)
    code = cli.main(["apply", str(root / "metta"), "--allow-no-vcs", "--jobs", "1"])
    out = capsys.readouterr().out
    assert code == 1  # manual sites left
    after = tree(root)
    assert all(after[p] == before[p] for p in before if not p.startswith("metta/")), "a file outside the PATH changed"
    assert set(after) == set(before), "nothing is deleted while files outside the PATH import it"
    assert "outside the paths this run was given; run on the whole project to migrate it" in out
    modules = {p[:-3].replace("/", ".").removesuffix(".__init__") for p in after if p.endswith(".py")}
    for rel in after:
        if rel.endswith(".py"):
            missing = {m for m in _imports(root / rel) if m.startswith("metta.") and m not in modules}
            assert not missing, (rel, missing)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, env=_env(root),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_each_project_under_one_path_is_migrated_as_if_alone(tmp_path: Path) -> None:
    """Two copies of each example side by side: same module names, different projects."""
    for name, example in (("a", "legacy_full"), ("b", "legacy_full"), ("c", "legacy_half"), ("d", "legacy_half")):
        shutil.copytree(FIXTURES / example, tmp_path / name, ignore=COPY)
    assert cli.main(["apply", str(tmp_path), "--allow-no-vcs", "--jobs", "2"]) in (0, 1)
    for name, golden in (("a", "legacy_full_expected"), ("b", "legacy_full_expected"),
                         ("c", "legacy_half_expected"), ("d", "legacy_half_expected")):
        assert_same_tree(tmp_path / name, FIXTURES / golden)


DRIVER = """
import sys
sys.argv[0] = "tinyckpt-migrate-{marker}"
from codemods import cli
sys.exit(cli.main(["apply", {root!r}, "--allow-no-vcs", "--jobs", "2"]))
"""


def _processes(marker: str) -> list[str]:
    """The command lines of live processes started for this test (the driver and its workers)."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmdline and state != "Z":
            found.append(cmdline)
    return found


@pytest.mark.longest
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_and_sigint_at_random_points_leave_every_file_whole(tmp_path: Path) -> None:
    """20 copies of the half-legacy example; `apply` in a subprocess is stopped by SIGTERM, then (on what
    the first one left) by SIGINT, each at a random moment. After each: no process of the run is left,
    no temporary file, every file is its legacy bytes or its golden bytes, and every file the run says
    it wrote is its golden. A last apply finishes the job: every copy equals the golden."""
    legacy, golden = tree(FIXTURES / "legacy_half"), tree(FIXTURES / "legacy_half_expected")
    for n in range(20):
        shutil.copytree(FIXTURES / "legacy_half", tmp_path / f"p{n:02d}", ignore=COPY)
    marker = f"safety{os.getpid()}{random.randrange(10**6)}"
    script = tmp_path.parent / f"{tmp_path.name}-driver.py"
    script.write_text(DRIVER.format(marker=marker, root=str(tmp_path)))
    rng = random.Random()
    for signum in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(rng.uniform(0.3, 7.0))
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1, 128 + signum), err[-2000:]
        deadline = time.monotonic() + 10
        while _processes(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _processes(marker), "a process of the run outlived it"
        files = {f"{p.relative_to(tmp_path)}": p for p in tmp_path.rglob("*") if p.is_file()}
        assert not [f for f in files if f.endswith(".tinyckpt-tmp")], "a temporary file was left"
        for rel, path in files.items():
            project, _, inner = rel.partition("/")
            if "__pycache__" in rel:
                continue
            assert path.read_bytes() in (legacy.get(inner), golden.get(inner)), rel
        for line in out.splitlines():
            if line.startswith("migrated "):
                written = Path(line.split(" ", 1)[1].strip())
                inner = written.relative_to(tmp_path).as_posix().partition("/")[2]
                assert written.read_bytes() == golden[inner], written
        if proc.returncode == 128 + signum:
            assert "interrupted" in err
    assert cli.main(["apply", str(tmp_path), "--allow-no-vcs", "--jobs", "2"]) in (0, 1)
    for n in range(20):
        assert_same_tree(tmp_path / f"p{n:02d}", FIXTURES / "legacy_half_expected")


WRITE_DRIVER = """
import json, os, sys, time
sys.path.insert(0, {tests!r})
from codemods import cli, files
calls = []
real_fsync = os.fsync

def slow_fsync(fd):
    calls.append(fd)
    if len(calls) == 2:  # the second file's temp copy is written, not yet in place
        open({flag!r}, "w").close()
        time.sleep(3)
    real_fsync(fd)

files.os.fsync = slow_fsync
sys.exit(cli.main(["apply", "--jobs", "1", "--allow-no-vcs", *{extra!r}, {root!r}]))
"""


@pytest.mark.parametrize("signum, extra", [(signal.SIGTERM, []), (signal.SIGINT, ["--format", "json"])])
def test_a_signal_during_the_writes_finishes_the_file_at_hand_and_lists_the_rest(tmp_path: Path, signum: int,
                                                                                 extra: list[str]) -> None:
    import json

    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "legacy_half", root, ignore=COPY)
    legacy, golden = tree(root), tree(FIXTURES / "legacy_half_expected")
    flag = tmp_path / "second-write"
    script = tmp_path / "driver.py"
    script.write_text(WRITE_DRIVER.format(tests=str(Path(__file__).parent), flag=str(flag), root=str(root), extra=extra))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    written = json.loads(out)["files_changed"] if extra else [line.split(" ", 1)[1] for line in out.splitlines()
                                                              if line.startswith("migrated ")]
    assert len(written) == 2  # the file being written when the signal came is finished, whole
    after = tree(root)
    assert not [p for p in after if p.endswith(".tinyckpt-tmp")]
    for rel, data in after.items():
        changed = any(Path(w).resolve() == (root / rel).resolve() for w in written)
        assert data == (golden[rel] if changed else legacy[rel]), rel
    assert f"interrupted ({signal.Signals(signum).name}): 2 written, 0 deleted" in err
    rest = err.split("not done (run apply again to finish):\n", 1)[1].splitlines()
    to_change = [rel for rel in legacy if golden.get(rel) != legacy[rel]]
    assert len(rest) == len(to_change) - 2 and all(line.startswith("  ") for line in rest)  # the rest, each listed


def test_a_legacy_writer_keeps_the_trainers_save_pair_with_its_readers(tmp_path: Path) -> None:
    """Checkpoints on disk: while a manual store.save writes files a tinyckpt reader could list (a name not
    visibly another than agent_epoch_<N>.pt), the readers stay legacy, and so does the trainer's save pair
    (else the trainer would write the tinyckpt layout for a resume that still reads the legacy one). With the
    export's file visibly named otherwise (the example), both migrate: the golden shows it."""
    from codemods import runner
    from codemods.config import find_config

    root = tmp_path / "full"
    shutil.copytree(FIXTURES / "legacy_full", root, ignore=COPY)
    export = root / "tools" / "export.py"
    text = export.read_text(encoding="utf-8")
    assert 'f"epoch_{epoch}.pt"' in text
    export.write_text(text.replace('f"epoch_{epoch}.pt"', 'f"{cfg.run}_{epoch}.pt"'), encoding="utf-8")
    result = runner.run([root], find_config(root), jobs=1)
    assert result.errors == []
    trainer = next(c for c in result.changes if c.file.endswith(os.path.join("rl", "trainer.py")))
    assert trainer.new_text is not None and "save_checkpoint" not in trainer.new_text
    assert "policy_store.save(pr)" in trainer.new_text and "policy_store.policy_record(checkpoint_dir" in trainer.new_text
    held = [s for s in result.manual if s.rule == "trainer_checkpoint"]
    assert held and all("tools.export" in s.message for s in held)
