"""The README and docs/ as a user meets them: every command runs as written, links stay in the repository.

Every fenced block whose info string starts with `sh` in README.md, CONTRIBUTING.md and docs/*.md is
run with bash (`set -e -o pipefail`), with the directory of this Python (the venv's `bin`, where
`tinyckpt-migrate` is) first on PATH. The words after `sh` say where:

- (none): in a fresh copy of the example project `fixtures/legacy_full`, a git repository with
  everything committed (as a user's project is before `apply`);
- `no-git`: in such a copy that is not a git repository;
- `repo`: in the repository checkout itself, with TMPDIR a temporary directory (for the blocks that
  copy an example project somewhere else first);
- `no-test`: not run. Only the two set-up commands, which create virtual environments and install
  packages (CI runs the second one, `.ci/run`).

A block states its expected non-zero exit codes itself (`tinyckpt-migrate diff || test $? -eq 1`),
so every block must exit 0. A ```python block marked `run` is run with this Python in an empty
temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE = ROOT / "fixtures" / "legacy_full"
FENCE = re.compile(r"^( *)```(\w+)([^\n]*)\n(.*?)^\1```[ \t]*$", re.MULTILINE | re.DOTALL)
OPTIONS = {"no-test", "no-git", "repo", "run"}

sys.path.insert(0, str(ROOT / "scripts"))
import document_rules  # noqa: E402  (scripts/ is not a package)


def _blocks(language: str) -> list[tuple[str, set[str], str]]:
    """(where, options, code) of every fenced block of `language` in the docs."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(2) == language:
                line = text.count("\n", 0, match.start()) + 1
                options = set(match.group(3).split())
                assert options <= OPTIONS, f"{doc.name}:{line}: unknown block options {options - OPTIONS}"
                found.append((f"{doc.relative_to(ROOT)}:{line}", options, textwrap.dedent(match.group(4))))
    return found


SH = _blocks("sh")
PYTHON = [b for b in _blocks("python") if "run" in b[1]]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""), TMPDIR=str(tmp),
               GIT_AUTHOR_NAME="docs test", GIT_AUTHOR_EMAIL="docs@example.com", GIT_COMMITTER_NAME="docs test",
               GIT_COMMITTER_EMAIL="docs@example.com", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp),
               PYTHONDONTWRITEBYTECODE="1", PYTHONWARNINGS="ignore", NO_COLOR="1")
    return env


def _git(cwd: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("where, options, code", [b for b in SH if "no-test" not in b[1]], ids=[b[0] for b in SH if "no-test" not in b[1]])
def test_shell_block_runs_as_written(tmp_path: Path, where: str, options: set[str], code: str) -> None:
    env = _env(tmp_path)
    if "repo" in options:
        cwd = ROOT
    else:
        cwd = tmp_path / "project"
        shutil.copytree(EXAMPLE, cwd, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        if "no-git" not in options:
            _git(cwd, "init", "-q", env=env)
            _git(cwd, "add", "-A", env=env)
            _git(cwd, "commit", "-qm", "the example project before the migration", env=env)
    done = subprocess.run(["bash", "-c", "set -e -o pipefail\n" + code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, f"{where} exited {done.returncode}\n{code}\n--- stdout\n{done.stdout[-4000:]}" \
                                 f"\n--- stderr\n{done.stderr[-4000:]}"


@pytest.mark.parametrize("where, options, code", PYTHON, ids=[b[0] for b in PYTHON])
def test_python_block_runs_as_written(tmp_path: Path, where: str, options: set[str], code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, f"{where}\n{code}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"


#: The two set-up commands of the README: the only blocks that are not run (they make venvs and install).
MAIN_JOB = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/tinyckpt-migrate diff fixtures/legacy_full"
TESTS = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' torch==2.13.0 && .venv/bin/python -m pytest -q"


def test_only_the_two_set_up_commands_opt_out() -> None:
    skipped = {code for _, options, code in SH if "no-test" in options}
    assert skipped == {MAIN_JOB + "\n", TESTS + "\n"}, skipped


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```sh no-test\n{MAIN_JOB}\n```" in readme and f"```sh no-test\n{TESTS}\n```" in readme
    assert TESTS + "\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines(keepends=True)


def test_readme_is_a_front_page() -> None:
    assert (ROOT / "README.md").stat().st_size <= 10 * 1024


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_links_point_to_files_in_the_repository(doc: Path) -> None:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path = target.split("#", 1)[0]
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.exists(), f"{doc.name}: broken link {target}"
        assert resolved == ROOT or ROOT in resolved.parents, f"{doc.name}: {target} is outside the repository"


def test_document_rules_check_fails_on_a_stale_table(tmp_path: Path) -> None:
    stale = tmp_path / "migration.md"
    text = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
    stale.write_text(text.replace("| `held_back` |", "| `held_back_renamed` |"), encoding="utf-8")
    assert document_rules.main(["--check", "--path", str(stale)]) == 1
    assert document_rules.main(["--path", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text
    assert document_rules.main(["--check", "--path", str(stale)]) == 0
