"""The file runner: pipeline, deletion planning, bad input, atomic apply (with a test-local rule,
so these tests do not depend on which real rules have landed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import libcst as cst
import pytest

from codemods import files, runner
from codemods.analysis import Analysis
from codemods.config import Config, find_config
from codemods.edits import Edit
from codemods.rules._rule import Rule


class MetaToDict(Rule):
    """`PolicyMetadata(...)` -> `dict(...)`; with `*args` it is a manual site (a tiny stand-in rule)."""

    NAME = "meta_to_dict"
    DESCRIPTION = "PolicyMetadata(**kw) -> dict(**kw)"

    def plan(self, a: Analysis) -> Iterable[Edit]:
        for call in a.walk.metadata_calls:
            if isinstance(call.func, cst.Attribute):
                continue
            if any(arg.star == "*" for arg in call.args):
                yield self.manual(call, "PolicyMetadata(*args): decide the keys by hand")
            else:
                yield self.replace(call, "PolicyMetadata(...) -> dict(...)",
                                   lambda updated: updated.with_changes(func=cst.Name("dict")))


class Noop(Rule):
    NAME = "noop"
    DESCRIPTION = "changes nothing"


TEST_RULES = [MetaToDict, Noop]

LEGACY = "class PolicyMetadata(dict):\n    pass\n"
USER = "from metta.agent.policy_metadata import PolicyMetadata\n\n\ndef f():\n    return PolicyMetadata(epoch=1)\n"
USER_NEW = "def f():\n    return dict(epoch=1)\n"  # (the file does not start with the removed import's blank lines)
MANUAL = "from metta.agent.policy_metadata import PolicyMetadata\n\n\ndef g(a):\n    return PolicyMetadata(*a)\n"


def make_project(root: Path, extra: dict[str, str | bytes] | None = None, pyproject: str = "") -> Path:
    """A small legacy project: the legacy module, a user of it, a legacy-only test, a normal test."""
    layout: dict[str, str | bytes] = {
        "pyproject.toml": pyproject or "[project]\nname = 'demo'\n",
        "metta/__init__.py": "",
        "metta/agent/__init__.py": "",
        "metta/agent/policy_metadata.py": LEGACY,
        "app/__init__.py": "",
        "app/use.py": USER,
        "app/plain.py": "import os\n",
        "tests/test_meta.py": "from metta.agent.policy_metadata import PolicyMetadata\n\n\ndef test_m():\n"
                              "    assert PolicyMetadata(a=1)['a'] == 1\n",
        "tests/test_app.py": "from app.use import f\n\n\ndef test_f():\n    assert f() == {'epoch': 1}\n",
    }
    layout.update(extra or {})
    for rel, content in layout.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode())
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(root: Path, jobs: int = 1, rules=None) -> runner.RunResult:
    return runner.run([root], find_config(root), rules=TEST_RULES if rules is None else rules, jobs=jobs)


def rel(paths, root: Path) -> list[str]:
    return sorted(os.path.relpath(os.path.abspath(p), root) for p in paths)


def test_pipeline_rewrites_deletes_and_reports(tmp_path):
    root = make_project(tmp_path)
    result = run(root)
    assert result.files_scanned == 8  # the Python files
    assert result.errors == []
    assert rel([c.file for c in result.changed], root) == ["app/use.py"]
    assert result.changed[0].new_text == USER_NEW
    # the legacy module is unused once app/use.py is migrated; its legacy-only test goes with it
    assert rel([c.file for c in result.deleted], root) == ["metta/agent/policy_metadata.py", "tests/test_meta.py"]
    assert [(s.line, s.rule, s.outcome) for s in result.sites] == [(5, "meta_to_dict", "migrated")]


def test_only_candidates_are_parsed(tmp_path, monkeypatch):
    root = make_project(tmp_path)
    seen = []
    real = runner.analyse
    monkeypatch.setattr(runner, "analyse", lambda text, path, **kw: seen.append(path) or real(text, path, **kw))
    result = run(root)
    # app/plain.py, tests/test_app.py and the empty __init__ files mention nothing legacy: never parsed;
    # the candidates are parsed and analysed once each, for their facts and their migration alike
    assert rel(seen, root) == ["app/use.py", "metta/agent/policy_metadata.py", "tests/test_meta.py"]
    assert rel([c.file for c in result.changed], root) == ["app/use.py"]


def test_kept_legacy_module_is_a_manual_site(tmp_path):
    root = make_project(tmp_path, {"app/manual.py": MANUAL})
    result = run(root)
    assert result.deleted == []  # the module stays for app/manual.py, and the test of it stays with it
    assert "tests/test_meta.py" not in rel([c.file for c in result.changed], root)
    kept = [s for s in result.sites if s.rule == runner.KEEP_RULE]
    assert len(kept) == 1 and kept[0].outcome == "manual"
    assert kept[0].path.endswith("metta/agent/policy_metadata.py")
    assert kept[0].message.startswith("legacy module kept: still imported by ") and "app/manual.py" in kept[0].message
    marker = [s for s in result.sites if s.rule == "meta_to_dict" and s.outcome == "manual"]
    assert len(marker) == 1 and marker[0].line == 6  # the marked statement, in the new text
    manual_new = next(c.new_text for c in result.changed if c.file.endswith("manual.py"))
    assert "# tinyckpt-migrate: manual: PolicyMetadata(*args)" in manual_new


def test_test_file_with_first_party_non_legacy_import_is_rewritten_not_deleted(tmp_path):
    mixed = ("from app.use import f\nfrom metta.agent.policy_metadata import PolicyMetadata\n\n\n"
             "def test_x():\n    assert PolicyMetadata(a=f())\n")
    root = make_project(tmp_path, {"tests/test_mixed.py": mixed})
    result = run(root)
    assert "tests/test_mixed.py" not in rel([c.file for c in result.deleted], root)
    assert "tests/test_mixed.py" in rel([c.file for c in result.changed], root)


def test_from_package_import_legacy_module_counts_as_legacy(tmp_path):
    test = "from metta.agent import policy_metadata\n\n\ndef test_m():\n    assert policy_metadata.PolicyMetadata()\n"
    root = make_project(tmp_path, {"tests/test_pkg_form.py": test})
    assert "tests/test_pkg_form.py" in rel([c.file for c in run(root).deleted], root)


def test_configured_delete_globs(tmp_path):
    pyproject = "[tool.tinyckpt-migrate]\ndelete = ['scripts/old_*.py']\n"
    root = make_project(tmp_path, {"scripts/old_eval.py": "print('x')\n", "scripts/keep.py": "print('y')\n"},
                        pyproject=pyproject)
    deleted = rel([c.file for c in run(root).deleted], root)
    assert "scripts/old_eval.py" in deleted and "scripts/keep.py" not in deleted


@pytest.mark.parametrize("name, content, reason, position", [
    ("bad_syntax.py", b"from metta.agent.policy_metadata import PolicyMetadata\ndef f(:\n", "cannot parse", (2, 7)),
    ("bad_bytes.py", b"x = 'PolicyMetadata \xff\xfe'\n", "cannot decode", (1, 1)),
    ("bad_bytes3.py", b"x = 1\ny = 2\nz = 'PolicyMetadata \xff\xfe'\n", "cannot decode as utf-8", (3, 21)),
    ("bad_cookie.py", b"# -*- coding: no-such-codec -*-\nx = 'PolicyMetadata'\n", "cannot decode", (1, 1)),
])
def test_bad_files_are_reported_left_alone_and_the_run_completes(tmp_path, name, content, reason, position):
    root = make_project(tmp_path, {f"app/{name}": content})
    result = run(root)
    assert [(os.path.basename(e.path), e.message.split(":")[0]) for e in result.errors] == [(name, reason)]
    assert (result.errors[0].line, result.errors[0].column) == position
    assert rel([c.file for c in result.changed], root) == ["app/use.py"]  # the rest still migrated
    before = snapshot(root)
    runner.apply_changes(result)
    assert (root / "app" / name).read_bytes() == before[f"app/{name}"] == content


def test_a_broken_file_that_imports_a_legacy_module_keeps_it(tmp_path):
    broken = b"from metta.agent.policy_metadata import PolicyMetadata\nx = PolicyMetadata(\n"
    root = make_project(tmp_path, {"app/broken.py": broken})
    result = run(root)
    assert "metta/agent/policy_metadata.py" not in rel([c.file for c in result.deleted], root)


def test_permission_denied_is_reported(tmp_path, monkeypatch):
    root = make_project(tmp_path)
    locked = root / "app" / "use.py"
    real_open = open

    def fake_open(path, *args, **kwargs):
        if os.path.abspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", fake_open, raising=False)  # works as root too (root ignores chmod)
    result = run(root)
    assert [(os.path.basename(e.path), e.message) for e in result.errors] == [("use.py", "cannot read: Permission denied")]


@pytest.mark.parametrize("name, raw", [
    ("crlf.py", USER.replace("\n", "\r\n").encode()),
    ("bom.py", b"\xef\xbb\xbf" + USER.encode()),
    ("latin1.py", ("# -*- coding: latin-1 -*-\n" + USER.replace("def f", "# café\ndef f")).encode("latin-1")),
    ("trailing_ws.py", USER.replace("def f():\n", "def f():   \n\t\n").encode()),
])
def test_encodings_and_newlines_survive_a_rewrite_byte_for_byte(tmp_path, name, raw):
    root = make_project(tmp_path, {f"app/{name}": raw})
    result = run(root)
    runner.apply_changes(result)
    new = (root / "app" / name).read_bytes()
    text, encoding = files.decode_source(raw)
    expected = text.replace("from metta.agent.policy_metadata import PolicyMetadata" + ("\r\n" if b"\r\n" in raw else "\n"),
                            "").replace("PolicyMetadata(epoch=1)", "dict(epoch=1)")
    if text.startswith("from "):  # the removed first import's blank lines do not start the file
        expected = expected.lstrip("\r\n")
    expected = expected.encode(encoding)
    assert new == expected
    assert new.count(b"\r\n") == expected.count(b"\r\n") and (b"\r\n" in raw) == (b"\r\n" in new)


def test_untouched_odd_files_stay_byte_identical(tmp_path):
    odd = {
        "app/crlf_plain.py": b"x = 1\r\ny = 'PolicyMetadata is mentioned'\r\n",
        "app/bom_plain.py": b"\xef\xbb\xbfx = 'PolicyMetadata'\n",
        "app/ff.py": b"x = 'PolicyMetadata'\n\x0c\ny = 2   \n",
    }
    root = make_project(tmp_path, odd)
    result = run(root)
    assert not {os.path.relpath(c.file, root) for c in result.changes} & set(odd)
    runner.apply_changes(result)
    for path, content in odd.items():
        assert (root / path).read_bytes() == content


def test_parallel_and_serial_runs_agree(tmp_path):
    extra = {f"app/m{i}.py": USER for i in range(10)}
    extra.update({f"app/q{i}.py": "import os\n" for i in range(80)})
    root = make_project(tmp_path, extra)
    serial, parallel = run(root, jobs=1), run(root, jobs=2)
    assert [(c.file, c.new_text) for c in serial.changes] == [(c.file, c.new_text) for c in parallel.changes]
    assert serial.sites == parallel.sites and len(serial.changed) == 11


def test_apply_skips_a_file_changed_on_disk_since_it_was_read(tmp_path):
    root = make_project(tmp_path)
    result = run(root)
    (root / "app" / "use.py").write_text(USER + "# edited meanwhile\n")
    applied = runner.apply_changes(result)
    assert [(os.path.basename(e.path), e.message) for e in applied.errors] == [
        ("use.py", "changed on disk during the run; left alone")]
    assert (root / "app" / "use.py").read_text().endswith("# edited meanwhile\n")


def test_apply_keeps_the_file_mode(tmp_path):
    root = make_project(tmp_path)
    (root / "app" / "use.py").chmod(0o751)
    runner.apply_changes(run(root))
    assert (root / "app" / "use.py").stat().st_mode & 0o777 == 0o751
    assert (root / "app" / "use.py").read_text() == USER_NEW


def test_select_rules():
    assert runner.select_rules(["noop"], registry=TEST_RULES) == [Noop]
    assert runner.select_rules(skip=["noop"], registry=TEST_RULES) == [MetaToDict]
    assert runner.select_rules(registry=TEST_RULES) == TEST_RULES
    with pytest.raises(ValueError, match="unknown rule.*nope"):
        runner.select_rules(["nope"], registry=TEST_RULES)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=root, check=True,
                   capture_output=True)


def test_dirty_files_are_the_ones_the_run_would_touch(tmp_path):
    root = make_project(tmp_path)
    assert runner.vcs_status([root]) is None  # not a git work tree
    assert runner.dirty_files([root], run(root)) is None
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    assert runner.vcs_status([root]) == set()
    (root / "app" / "plain.py").write_text("import sys\n")  # tracked, not touched by the run
    (root / "MIGRATION.md").write_text("report\n")  # untracked, not touched
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("x\n")  # in an untracked directory
    status = runner.vcs_status([root])
    assert {os.path.relpath(p, root) for p in status} == {"app/plain.py", "MIGRATION.md", "notes/todo.txt"}
    assert runner.dirty_files([root], run(root)) == []
    assert runner.vcs_status([root / "metta"]) == set()  # only under the paths given
    (root / "app" / "use.py").write_text(USER + "# edited\n")  # a file the run rewrites
    legacy = root / "metta" / "agent" / "policy_metadata.py"
    legacy.write_text(legacy.read_text() + "# edited\n")  # ... and one it deletes
    result = run(root)
    assert [os.path.relpath(p, root) for p in runner.dirty_files([root], result)] == [
        "app/use.py", "metta/agent/policy_metadata.py"]


def test_needles_select_files_that_call_into_legacy_modules_and_nothing_else(tmp_path, monkeypatch):
    """Beyond the prefilter, the runner also reads the files that may pass or receive legacy values without
    naming anything legacy: a file that mentions a function of a module where legacy values live AND imports
    that module; a test file below a conftest that mentions one of its fixtures. Only whole words, once."""
    conftest = ("import pytest\nfrom metta.agent.policy_store import PolicyStore\n\n\n@pytest.fixture\n"
                "def store_fixture():\n    return PolicyStore()\n")
    library = "from metta.agent.policy_store import PolicyStore\n\n\ndef describe(store: PolicyStore):\n    return store\n"
    root = make_project(tmp_path, {
        "tests/conftest.py": conftest,
        "tests/test_uses_fixture.py": "def test_x(store_fixture):\n    assert store_fixture\n",
        "tests/test_other.py": "def test_y(store_fixture_other):\n    assert store_fixture_other\n",
        "elsewhere/test_far.py": "def test_z(store_fixture):\n    assert store_fixture\n",  # not below the conftest
        "app/lib.py": library,
        "app/caller.py": "from app.lib import describe\n\n\ndef run(s):\n    return describe(s)\n",
        "app/namesake.py": "def describe(x):\n    return x\n\n\ndescribe(1)\n",  # the word, not the import
    })
    seen = []
    real = runner.analyse
    monkeypatch.setattr(runner, "analyse", lambda text, path, **kw: seen.append(path) or real(text, path, **kw))
    result = run(root)
    assert len(seen) == len(set(seen)), "a file was analysed twice"
    parsed = set(rel(seen, root))
    assert {"tests/test_uses_fixture.py", "app/caller.py"} <= parsed  # selected, though they mention nothing legacy
    assert not parsed & {"tests/test_other.py", "elsewhere/test_far.py", "app/namesake.py", "app/plain.py"}
    assert result.candidates == len(parsed)


# -- directories the deletions leave empty -----------------------------------------------------------

MOCKS = {  # a legacy package: nothing imports it, so both its files are deleted
    "metta/agent/mocks/__init__.py": "from .mock_policy_record import MockPolicyRecord\n",
    "metta/agent/mocks/mock_policy_record.py": "class MockPolicyRecord:\n    pass\n",
}


def tree_entries(root: Path) -> list[str]:
    """Every file and directory under `root`, relative."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_a_package_whose_every_file_is_deleted_is_removed(tmp_path):
    root = make_project(tmp_path, MOCKS)
    result = run(root)
    assert {"metta/agent/mocks/__init__.py", "metta/agent/mocks/mock_policy_record.py"} <= set(
        rel([c.file for c in result.deleted], root))
    applied = runner.apply_changes(result)
    assert applied.errors == []
    assert rel(applied.removed_dirs, root) == ["metta/agent/mocks"]
    assert all(p.endswith("/") for p in applied.removed_dirs)
    assert not (root / "metta" / "agent" / "mocks").exists()
    assert (root / "metta" / "agent" / "__init__.py").is_file()  # the parent package keeps its other files
    assert "tests" in tree_entries(root)  # tests/test_meta.py went, tests/test_app.py stays


@pytest.mark.parametrize("other", ["metta/agent/mocks/README.md", "metta/agent/mocks/data/weights.bin",
                                   "metta/agent/mocks/.gitkeep", "metta/agent/mocks/py.typed"])
def test_a_package_holding_anything_else_stays(tmp_path, other):
    root = make_project(tmp_path, {**MOCKS, other: b"kept"})
    applied = runner.apply_changes(run(root))
    assert applied.removed_dirs == []
    assert (root / other).read_bytes() == b"kept"
    assert not (root / "metta/agent/mocks/__init__.py").exists()


def _pycache(root: Path, names: list[str]) -> Path:
    cache = root / "metta" / "agent" / "mocks" / "__pycache__"
    cache.mkdir(parents=True)
    for name in names:
        (cache / name).write_bytes(b"\x00bytecode")
    return cache


def test_a_pycache_of_only_the_deleted_modules_goes_with_the_package(tmp_path):
    root = make_project(tmp_path, MOCKS)
    tag = sys.implementation.cache_tag
    _pycache(root, [f"__init__.{tag}.pyc", f"mock_policy_record.{tag}.pyc", f"mock_policy_record.{tag}.opt-1.pyc",
                    "mock_policy_record.cpython-310.pyc", f"__init__.{tag}-pytest-8.3.4.pyc"])
    applied = runner.apply_changes(run(root))
    assert rel(applied.removed_dirs, root) == ["metta/agent/mocks"]
    assert not (root / "metta" / "agent" / "mocks").exists()


@pytest.mark.parametrize("stray", [
    "other.cpython-311.pyc",  # byte code of a module that was not deleted now
    "mock_policy_record.py",  # not byte code
    "mock_policy_record.cpython-311.pyc.tmp",
    "notes.txt",
])
def test_a_pycache_holding_anything_else_keeps_the_package(tmp_path, stray):
    root = make_project(tmp_path, MOCKS)
    cache = _pycache(root, ["mock_policy_record.cpython-311.pyc", stray])
    applied = runner.apply_changes(run(root))
    assert applied.removed_dirs == []
    assert sorted(p.name for p in cache.iterdir()) == sorted(["mock_policy_record.cpython-311.pyc", stray])


def test_a_symlinked_pycache_is_never_followed(tmp_path):
    root = make_project(tmp_path / "project", MOCKS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mock_policy_record.cpython-311.pyc").write_bytes(b"x")
    (root / "metta" / "agent" / "mocks" / "__pycache__").symlink_to(elsewhere, target_is_directory=True)
    applied = runner.apply_changes(run(root))
    assert applied.removed_dirs == []
    assert (elsewhere / "mock_policy_record.cpython-311.pyc").read_bytes() == b"x"
    assert (root / "metta" / "agent" / "mocks" / "__pycache__").is_symlink()


def test_only_the_emptied_nested_directory_goes(tmp_path):
    pyproject = "[tool.tinyckpt-migrate]\ndelete = ['legacy/a/b/**']\n"
    root = make_project(tmp_path, {"legacy/a/b/c/x.py": "x = 1\n", "legacy/a/b/y.py": "y = 1\n",
                                   "legacy/a/keep.py": "k = 1\n"}, pyproject=pyproject)
    result = run(root)
    assert rel([c.file for c in result.deleted], root) == [
        "legacy/a/b/c/x.py", "legacy/a/b/y.py", "metta/agent/policy_metadata.py", "tests/test_meta.py"]
    applied = runner.apply_changes(result)
    assert rel(applied.removed_dirs, root) == ["legacy/a/b", "legacy/a/b/c"]
    assert [e for e in tree_entries(root) if e.startswith("legacy")] == ["legacy", "legacy/a", "legacy/a/keep.py"]


def test_the_paths_given_and_the_project_root_are_never_removed(tmp_path):
    pyproject = "[tool.tinyckpt-migrate]\ndelete = ['legacy/**']\n"
    root = make_project(tmp_path, {"legacy/a/x.py": "x = 1\n", "legacy/y.py": "y = 1\n"}, pyproject=pyproject)
    result = runner.run([root / "legacy"], find_config(root), rules=TEST_RULES, jobs=1)
    assert rel([c.file for c in result.deleted], root) == ["legacy/a/x.py", "legacy/y.py"]
    applied = runner.apply_changes(result)
    assert rel(applied.removed_dirs, root) == ["legacy/a"]
    assert (root / "legacy").is_dir() and list((root / "legacy").iterdir()) == []  # the root given stays
    # given a file, no directory is removed (every one is above the root the user passed)
    make_project(tmp_path, {"legacy/a/x.py": "x = 1\n"}, pyproject=pyproject)
    result = runner.run([root / "legacy" / "a" / "x.py"], find_config(root), rules=TEST_RULES, jobs=1)
    assert rel([c.file for c in result.deleted], root) == ["legacy/a/x.py"]
    assert runner.apply_changes(result).removed_dirs == []
    assert (root / "legacy" / "a").is_dir()


def test_the_project_root_is_never_removed_even_below_the_path_given(tmp_path):
    outer = tmp_path / "outer"
    project = outer / "project"  # a project root without a pyproject.toml: nothing else keeps it
    for rel_path in ("old/x.py", "y.py"):
        (project / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (project / rel_path).write_text("x = 1\n")
    (outer / "other.py").write_text("o = 1\n")
    config = Config(delete=("**",), root=project)
    result = runner.run([outer], config, rules=TEST_RULES, jobs=1)
    assert rel([c.file for c in result.deleted], outer) == ["project/old/x.py", "project/y.py"]
    applied = runner.apply_changes(result)
    assert rel(applied.removed_dirs, outer) == ["project/old"]
    assert tree_entries(outer) == ["other.py", "project"]


def test_a_rule_failing_on_a_files_facts_is_reported_and_the_file_left_alone(tmp_path: Path) -> None:
    """A crash while collecting a file's cross-file facts never drops the file silently from the tree's
    analysis: the run reports it, leaves the file byte-identical and deletes nothing it imports."""
    from codemods.rules import RULES

    class Broken(Rule):
        NAME = "broken"

        @classmethod
        def facts(cls, a: Analysis) -> dict[str, list[Any]]:
            if a.module == "app.main":
                raise KeyError("boom")
            return {}

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("", encoding="utf-8")
    main = "from metta.agent.policy_store import PolicyStore\n\n\ndef load(store: PolicyStore, uri):\n    return store.policy_record(uri).uri\n"
    (tmp_path / "app" / "main.py").write_text(main, encoding="utf-8")
    result = runner.run([tmp_path], find_config(tmp_path), rules=[*RULES, Broken], jobs=1)
    assert [(e.path.replace(os.sep, "/").rpartition("app/")[2], e.message) for e in result.errors] == \
        [("main.py", "internal error in broken (facts): 'boom'")]
    assert not [c for c in result.changes if c.file.endswith("main.py")]
