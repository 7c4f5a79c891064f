"""The command line: every output format, exit codes, bad input, dirty trees, and a killed apply."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_runner import (
    MANUAL,
    MOCKS,
    TEST_RULES,
    USER,
    USER_NEW,
    make_project,
    snapshot,
)

from codemods import cli, runner
from codemods.progress import ProgressBar

HAS_GIT = shutil.which("git") is not None
TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _test_rules(monkeypatch):
    """The CLI runs the test-local rules (the real registry fills up as rules land)."""
    monkeypatch.setattr(runner, "RULES", list(TEST_RULES))


def main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([*argv, "--jobs", "1"] if argv and argv[0] in ("diff", "apply") else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=root, check=True,
                          capture_output=True, text=True).stdout


def committed_project(root: Path, extra=None) -> Path:
    make_project(root, extra)
    if HAS_GIT:
        git(root, "init", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "legacy")
    return root


# -- diff ------------------------------------------------------------------------------------------

def test_diff_text_is_a_git_style_patch_with_deletions_and_a_summary(tmp_path, capsys, monkeypatch):
    root = committed_project(tmp_path)
    monkeypatch.chdir(root)
    before = snapshot(root)
    code, out, err = main(capsys, "diff")
    assert code == 1 and err == ""
    assert snapshot(root) == before  # a dry run
    assert "diff --git a/app/use.py b/app/use.py\n--- a/app/use.py\n+++ b/app/use.py\n@@ " in out
    assert "+    return dict(epoch=1)\n" in out
    deleted = ("diff --git a/tests/test_meta.py b/tests/test_meta.py\ndeleted file mode 100644\n"
               "--- a/tests/test_meta.py\n+++ /dev/null\n@@ -1,5 +0,0 @@\n"
               "-from metta.agent.policy_metadata import PolicyMetadata\n")
    assert deleted in out
    assert "diff --git a/metta/agent/policy_metadata.py b/metta/agent/policy_metadata.py\ndeleted file mode" in out
    table = out[out.index("\nfile "):]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:] if line and line[0] != " "}
    assert rows["app/use.py"] == ["1"]
    assert rows["tests/test_meta.py"] == ["yes"]
    assert rows["metta/agent/policy_metadata.py"] == ["yes"]
    assert "8 files scanned, 1 changed, 2 deleted; 1 site migrated, 0 manual" in out
    assert "\033[" not in out  # no colour when stdout is not a terminal
    if HAS_GIT:  # the patch applies as it is, summary and all
        (tmp_path.parent / "p.diff").write_text(out)
        git(root, "apply", "--check", str(tmp_path.parent / "p.diff"))


def test_diff_keeps_a_module_still_imported_and_its_tests_with_it(tmp_path, capsys, monkeypatch):
    """A manual site still imports the legacy module: the module stays (reported), and so does the test
    of it (a test of code that is kept is not lost; the run that deletes the module deletes it)."""
    root = committed_project(tmp_path, {"app/manual.py": MANUAL})
    monkeypatch.chdir(root)
    code, out, err = main(capsys, "diff")
    assert code == 1 and err == ""
    assert "+    return dict(epoch=1)\n" in out
    assert "tests/test_meta.py" not in out and "deleted file mode" not in out
    table = out[out.index("\nfile "):]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:] if line and line[0] != " "}
    assert rows["app/use.py"] == ["1"]
    assert rows["app/manual.py"] == ["1"]  # one manual site (column alignment: see below)
    assert "9 files scanned, 2 changed, 0 deleted; 1 site migrated, 2 manual" in out
    assert "manual   metta/agent/policy_metadata.py:1:1: delete_legacy_modules: legacy module kept: still " \
           "imported by app/manual.py" in out
    assert "manual   app/manual.py:6:12: meta_to_dict: PolicyMetadata(*args): decide the keys by hand" in out
    if HAS_GIT:
        (tmp_path.parent / "p.diff").write_text(out)
        git(root, "apply", "--check", str(tmp_path.parent / "p.diff"))


def test_diff_colour_and_nothing_to_do(tmp_path, capsys, monkeypatch):
    root = make_project(tmp_path)
    code, out, _ = main(capsys, "diff", str(root), "--color", "always")
    assert code == 1 and "\033[32m+    return dict(epoch=1)\033[0m" in out and "\033[31m-" in out
    clean = tmp_path / "clean"
    (clean / "pkg").mkdir(parents=True)
    (clean / "pkg" / "m.py").write_text("import os\n")
    code, out, _ = main(capsys, "diff", str(clean))
    assert code == 0
    assert out == "1 file scanned, 0 changed, 0 deleted; 0 sites migrated, 0 manual\n"


def test_diff_json(tmp_path, capsys, monkeypatch):
    root = make_project(tmp_path, {"app/manual.py": MANUAL})
    monkeypatch.chdir(root)
    code, out, _ = main(capsys, "diff", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert set(data) == {"files_changed", "files_deleted", "sites", "errors", "version"}
    assert data["files_changed"] == ["app/manual.py", "app/use.py"]
    assert data["files_deleted"] == []  # the module stays for app/manual.py, and so does its test
    assert data["errors"] == []
    assert {"path": "app/use.py", "line": 5, "rule": "meta_to_dict", "outcome": "migrated",
            "message": "PolicyMetadata(...) -> dict(...)", "code": None} in data["sites"]
    assert all(set(s) == {"path", "line", "rule", "outcome", "message", "code"} for s in data["sites"])
    assert [s["code"] for s in data["sites"] if s["outcome"] == "manual"] == [None, "TCK-M191"]  # (meta_to_dict: a test rule)
    assert sorted(s["outcome"] for s in data["sites"]) == ["manual", "manual", "migrated"]


# -- apply -----------------------------------------------------------------------------------------

@pytest.mark.skipif(not HAS_GIT, reason="needs git")
def test_apply_writes_deletes_and_exits_0(tmp_path, capsys, monkeypatch):
    root = committed_project(tmp_path)
    monkeypatch.chdir(root)
    code, out, err = main(capsys, "apply")
    assert (code, err) == (0, "")
    assert "migrated app/use.py\n" in out
    assert "deleted  metta/agent/policy_metadata.py\n" in out and "deleted  tests/test_meta.py\n" in out
    assert (root / "app" / "use.py").read_text() == USER_NEW
    assert not (root / "metta" / "agent" / "policy_metadata.py").exists()
    assert git(root, "status", "--porcelain").split("\n")[:3] == [
        " M app/use.py", " D metta/agent/policy_metadata.py", " D tests/test_meta.py"]
    git(root, "commit", "-qam", "migrated")
    code, out, _ = main(capsys, "apply")  # idempotent: nothing left to do
    assert code == 0 and out.endswith("0 changed, 0 deleted; 0 sites migrated, 0 manual\n")


@pytest.mark.skipif(not HAS_GIT, reason="needs git")
def test_apply_prints_the_directories_its_deletions_emptied(tmp_path, capsys, monkeypatch):
    root = committed_project(tmp_path, MOCKS)
    monkeypatch.chdir(root)
    code, out, _ = main(capsys, "diff")  # a diff is about files: no directory in it
    assert code == 1 and "deleted file mode" in out and "metta/agent/mocks/\n" not in out
    assert (root / "metta" / "agent" / "mocks").is_dir()
    code, out, err = main(capsys, "apply")
    assert (code, err) == (0, "")
    assert "deleted  metta/agent/mocks/__init__.py\n" in out
    assert "removed  metta/agent/mocks/\n" in out and out.count("removed  ") == 1
    assert not (root / "metta" / "agent" / "mocks").exists()


@pytest.mark.skipif(not HAS_GIT, reason="needs git")
def test_apply_json_and_report_with_manual_sites_exits_1(tmp_path, capsys, monkeypatch):
    root = committed_project(tmp_path, {"app/manual.py": MANUAL})
    monkeypatch.chdir(root)
    report = tmp_path.parent / f"{tmp_path.name}-report.md"
    code, out, _ = main(capsys, "apply", "--format", "json", "--report", str(report))
    assert code == 1
    data = json.loads(out)
    assert data["files_changed"] == ["app/manual.py", "app/use.py"]
    assert data["files_deleted"] == []
    assert (root / "metta" / "agent" / "policy_metadata.py").exists()  # still needed by app/manual.py
    assert (root / "tests" / "test_meta.py").exists()  # and its test with it
    md = report.read_text()
    assert md.startswith("# tinyckpt-migrate report\n")
    assert "| [`app/manual.py:6`](app/manual.py#L6) | `meta_to_dict` | PolicyMetadata(*args): decide the keys by hand |" in md
    assert "| [`metta/agent/policy_metadata.py:1`](metta/agent/policy_metadata.py#L1) | `delete_legacy_modules` | " \
           "legacy module kept: still imported by app/manual.py |" in md
    assert "| `app/use.py` | 1 | 0 |  |" in md
    assert "| `meta_to_dict` | 1 |" in md
    assert "## Deleted files" not in md
    assert "**2 manual sites left**" in md
    # a second apply changes nothing more (markers are not duplicated) and still reports the manual sites
    git(root, "add", "-A")
    git(root, "commit", "-qm", "step 1")
    code, out, _ = main(capsys, "apply")
    assert code == 1 and "0 changed, 0 deleted; 0 sites migrated, 2 manual" in out


@pytest.mark.skipif(not HAS_GIT, reason="needs git")
def test_apply_refuses_only_when_files_it_would_change_are_dirty(tmp_path, capsys, monkeypatch):
    root = committed_project(tmp_path)
    (root / "app" / "plain.py").write_text("import sys\n")  # uncommitted, but apply does not touch it
    monkeypatch.chdir(root)
    code, out, err = main(capsys, "diff", "--report", "MIGRATION.md")  # the README's review workflow
    assert code == 1 and (root / "MIGRATION.md").exists()  # an untracked file apply does not touch
    (root / "app" / "use.py").write_text(USER + "# my edit\n")  # a file apply would rewrite
    before = snapshot(root)
    code, out, err = main(capsys, "apply")
    assert code == 2 and out == ""
    assert "uncommitted changes" in err and "--allow-dirty" in err and "app/use.py" in err
    assert "app/plain.py" not in err and "MIGRATION.md" not in err
    assert snapshot(root) == before
    git(root, "checkout", "app/use.py")
    code, out, err = main(capsys, "apply")
    assert code == 0 and (root / "app" / "use.py").read_text() == USER_NEW
    assert (root / "app" / "plain.py").read_text() == "import sys\n"


def test_apply_outside_git_needs_allow_no_vcs(tmp_path, capsys):
    root = make_project(tmp_path)
    before = snapshot(root)
    code, out, err = main(capsys, "apply", str(root))
    assert (code, out) == (2, "") and "not in a git work tree" in err and "--allow-no-vcs" in err
    assert snapshot(root) == before
    code, out, err = main(capsys, "apply", str(root), "--allow-no-vcs")
    assert code == 0 and (root / "app" / "use.py").read_text() == USER_NEW


@pytest.mark.parametrize("name, content, reason, where", [
    ("bad_syntax.py", b"import metta.agent.policy_metadata\ndef f(:\n", "cannot parse", "2:7"),
    ("bad_bytes.py", b"x = 1\ny = 2\nz = 'PolicyMetadata \xff'\n", "cannot decode as utf-8", "3:21"),
])
def test_files_that_cannot_be_processed_exit_2_and_stay_byte_identical(tmp_path, capsys, name, content, reason, where):
    root = make_project(tmp_path, {f"app/{name}": content})
    code, out, err = main(capsys, "apply", str(root), "--allow-no-vcs")
    assert code == 2
    assert (root / "app" / name).read_bytes() == content
    assert (root / "app" / "use.py").read_text() == USER_NEW  # the rest of the run completed
    assert f"{root}/app/{name}:{where}: error: {reason}" in out
    code, out, err = main(capsys, "diff", str(root), "--format", "json")
    assert code == 2
    (error,) = json.loads(out)["errors"]
    assert error["path"] == f"{root}/app/{name}" and error["message"].startswith(reason)
    assert f"{error['line']}:{error['column']}" == where
    assert f"{name}:{where}: error: {reason}" in err


def test_permission_denied_exits_2(tmp_path, capsys, monkeypatch):
    from codemods import files

    root = make_project(tmp_path)
    locked = str(root / "app" / "use.py")
    real_open = open

    def fake_open(path, *args, **kwargs):
        if os.path.abspath(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", fake_open, raising=False)
    code, _, err = main(capsys, "diff", str(root))
    assert code == 2 and f"{locked}:1:1: error: cannot read: Permission denied" in err


# -- usage errors, rules ---------------------------------------------------------------------------

def test_usage_errors_exit_2(tmp_path, capsys):
    code, _, err = main(capsys, "diff", str(tmp_path / "missing"))
    assert code == 2 and "missing: no such file or directory" in err
    code, _, err = main(capsys, "diff", str(tmp_path), "--only", "nope")
    assert code == 2 and "unknown rule(s): nope" in err
    (tmp_path / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\nexclude = 'not-a-list'\n")
    code, _, err = main(capsys, "diff", str(tmp_path))
    assert code == 2 and "exclude must be a list of strings" in err
    for table, said in [("target = 'not a module!'", "target must be a module name"),
                        ("legacy-names = {}", "legacy-names is empty"),
                        ("extra-legacy-names = {'not dotted' = 'PolicyStore'}", "expected a dotted name"),
                        ("target = 'metta.agent.policy_store'", "is itself named as legacy")]:
        (tmp_path / "pyproject.toml").write_text(f"[tool.tinyckpt-migrate]\n{table}\n")
        (tmp_path / "m.py").write_text("from metta.agent.policy_metadata import PolicyMetadata\nx = PolicyMetadata()\n")
        code, out, err = main(capsys, "diff", str(tmp_path))
        assert (code, out) == (2, "") and said in err, (table, err)  # refused at start: nothing ran
    (tmp_path / "pyproject.toml").write_text("[tool.tinyckpt-migrate\n")
    code, _, err = main(capsys, "apply", str(tmp_path), "--allow-dirty")
    assert code == 2 and "pyproject.toml" in err
    code, _, err = main(capsys)
    assert code == 2 and "a command is required" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["diff", "--format", "xml"])
    assert exc.value.code == 2


def test_list_rules_only_and_skip(tmp_path, capsys):
    code, out, _ = main(capsys, "--list-rules")
    assert code == 0 and out.splitlines() == ["meta_to_dict  PolicyMetadata(**kw) -> dict(**kw)",
                                              "noop          changes nothing"]
    root = make_project(tmp_path)
    code, out, _ = main(capsys, "diff", str(root), "--only", "noop", "--format", "json")
    data = json.loads(out)  # nothing migrated, so the legacy module is still needed
    assert data["files_changed"] == [] and [s["rule"] for s in data["sites"]] == ["delete_legacy_modules"]
    code, out, _ = main(capsys, "diff", str(root), "--skip", "noop", "--format", "json")
    assert json.loads(out)["sites"][0]["rule"] == "meta_to_dict"
    code, out, _ = main(capsys, "diff", str(root), "--only", "noop,meta_to_dict", "--format", "json")
    assert len(json.loads(out)["files_changed"]) == 1


def test_progress_bar_only_after_the_delay():
    class Stream:
        text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    quiet, shown = Stream(), Stream()
    bar = ProgressBar(quiet, delay=60)
    advance = bar("scanning", 10)
    advance(10)
    bar.close()
    assert quiet.text == ""
    bar = ProgressBar(shown, delay=0)
    advance = bar("scanning", 10)
    advance(5)
    time.sleep(0.11)
    advance(5)
    bar.close()
    assert "scanning" in shown.text and "10/10" in shown.text and shown.text.endswith("\r\033[K")


def test_check_is_wired(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "clean.py").write_text("import os\n")
    code, out, _ = main(capsys, "check", str(tmp_path))
    assert code == 0
    (tmp_path / "legacy.py").write_text("from metta.agent.policy_store import PolicyStore\n")
    code, out, _ = main(capsys, "check", str(tmp_path))
    assert code == 1 and "legacy.py:1:" in out


# -- subprocesses: python -m codemods, and a killed apply ------------------------------------------

def test_python_dash_m_codemods_help():
    out = subprocess.run([sys.executable, "-m", "codemods", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "exit codes:" in out.stdout and "tinyckpt-migrate diff" in out.stdout


DRIVER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {tests!r})
    from codemods import cli, files, runner
    import test_runner
    runner.RULES[:] = test_runner.TEST_RULES
    calls = []
    real_fsync = os.fsync

    def slow_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file's temp copy is written, not yet in place
            open({flag!r}, "w").close()
            time.sleep(60)
        real_fsync(fd)

    files.os.fsync = slow_fsync
    sys.exit(cli.main(["apply", "--jobs", "1", "--allow-no-vcs", {root!r}]))
""")


def test_a_killed_apply_never_leaves_half_a_file(tmp_path):
    root = make_project(tmp_path / "proj", {f"app/u{i}.py": USER for i in range(3)})
    before = snapshot(root)
    flag = tmp_path / "second-write-started"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(TESTS), flag=str(flag), root=str(root)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "apply never reached the second write"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    after = snapshot(root)
    changed = {path for path in before if after.get(path) != before[path]}
    assert len(changed) == 1  # exactly the first write landed, whole
    (path,) = changed
    assert after[path] == USER_NEW.encode()
    for rel, content in after.items():  # every Python file is whole: the old bytes or the new
        if rel.endswith(".py"):
            assert content in (before[rel], USER_NEW.encode()), rel
    leftovers = [rel for rel in after if rel not in before]
    assert all(".tinyckpt-tmp" in rel and not rel.endswith(".py") for rel in leftovers)


def test_a_write_that_fails_stops_every_deletion(tmp_path, capsys, monkeypatch):
    """A read-only directory (simulated: the tests may run as root): the other files are written, nothing
    is deleted (the legacy module stays beside the file that still imports it), exit 2, the deletions listed."""
    from codemods import files

    root = make_project(tmp_path, {"app/other.py": USER})
    locked = os.path.realpath(root / "app" / "use.py")
    real = files.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("prefix") == f".{os.path.basename(locked)}." and kwargs.get("dir") == os.path.dirname(locked):
            raise PermissionError(13, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)
    code, out, err = main(capsys, "apply", str(root), "--allow-no-vcs")
    assert code == 2
    assert (root / "app" / "other.py").read_text() == USER_NEW  # written
    assert (root / "app" / "use.py").read_text() == USER  # not written: still imports the legacy module
    assert (root / "metta" / "agent" / "policy_metadata.py").exists() and (root / "tests" / "test_meta.py").exists()
    assert "use.py:1:1: error: cannot write: Permission denied" in err
    assert "nothing was deleted" in err and "policy_metadata.py" in err and "test_meta.py" in err
    assert "deleted  " not in out


def test_version_and_cli_edges(tmp_path, capsys):
    from codemods import version

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"tinyckpt-migrate {version()}\n"
    root = make_project(tmp_path / "p")
    code, out, err = main(capsys, "diff", str(root), "--only", "")  # used to run every rule
    assert (code, out) == (2, "") and "empty rule name" in err
    code, out, err = main(capsys, "diff", str(root), "--skip", "meta_to_dict,")
    assert (code, out) == (2, "") and "empty rule name" in err
    (root / "NOTES.md").write_text("We still use PolicyStore.\n")
    code, out, err = main(capsys, "diff", str(root / "NOTES.md"))  # used to try to parse Markdown
    assert (code, out) == (2, "") and "NOTES.md: not a Python file" in err
    code, out, err = main(capsys, "check", str(root / "NOTES.md"))  # used to say "0 files scanned", exit 0
    assert (code, out) == (2, "") and "not a Python file (add --docs" in err
    code, out, err = main(capsys, "check", "--docs", str(root / "NOTES.md"))
    assert code == 1 and "TCK200" in out
    before = snapshot(root)
    code, out, err = main(capsys, "apply", str(root), "--allow-no-vcs", "--report", str(tmp_path / "missing" / "r.md"))
    assert (code, out) == (2, "") and "cannot write report" in err and "no directory" in err
    assert snapshot(root) == before  # refused before anything was written
    code, out, _ = main(capsys, "diff", str(root), "--format", "json")
    assert json.loads(out)["version"] == version()


def test_help_names_only_rules_and_commands_that_exist(capsys):
    """--help used to show `--only meta_to_dict`, a rule that does not exist."""
    from codemods.rules import RULES

    texts = []
    for argv in ([], ["diff"], ["apply"], ["check"], ["checkpoints"]):
        with pytest.raises(SystemExit):
            cli.main([*argv, "--help"])
        texts.append(capsys.readouterr().out)
    names = {rule.NAME for rule in RULES}
    for text in texts:
        for mentioned in re.findall(r"--(?:only|skip) ([a-z_]+)\b", text):
            assert mentioned in names, mentioned
    assert "checkpoints" in texts[0] and "data-dir" in texts[0]
    yaml = (TESTS.parent / ".libcst.codemod.yaml").read_text()
    assert "meta_to_dict" not in yaml and "migrate.Migrate" in yaml
