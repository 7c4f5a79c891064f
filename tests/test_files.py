"""Walking, reading, writing (codemods/files.py) and the byte prefilter (codemods/legacy.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codemods import files
from codemods.config import Config
from codemods.files import (
    SourceError,
    decode_source,
    iter_python_files,
    module_name_for,
    parallel_map,
    read_source,
    write_atomic,
)
from codemods.legacy import prefilter_for


def touch(root: Path, *rels: str, content: str = "x = 1\n") -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def walked(root: Path, config: Config | None = None, paths=None) -> list[str]:
    config = config or Config(root=root)
    return [os.path.relpath(p, root) for p in iter_python_files(paths or [root], config)]


def test_walk_skips_envs_build_output_and_caches(tmp_path):
    touch(tmp_path, "a.py", "pkg/b.py", "pkg/notes.txt", ".venv/lib/c.py", "venv/d.py", "build/e.py", "dist/f.py",
          "pkg/__pycache__/g.py", "node_modules/h.py", ".git/i.py", "x.egg-info/j.py", ".tox/py/k.py")
    assert walked(tmp_path) == ["a.py", "pkg/b.py"]


def test_default_path_is_the_current_directory(tmp_path, monkeypatch):
    touch(tmp_path, "a.py", "sub/b.py")
    monkeypatch.chdir(tmp_path)
    assert [str(p) for p in iter_python_files([], Config(root=tmp_path))] == ["a.py", "sub/b.py"]


def test_exclude_globs_are_relative_to_the_root(tmp_path):
    touch(tmp_path, "fixtures/a/x.py", "src/fixtures.py", "src/gen/m_pb2.py", "src/ok.py", "deep/migrations/0001.py",
          "bench/y.py")
    config = Config(root=tmp_path, exclude=("fixtures/**", "*_pb2.py", "migrations", "/bench"))
    assert walked(tmp_path, config) == ["src/fixtures.py", "src/ok.py"]


def test_explicit_paths_beat_excludes(tmp_path):
    touch(tmp_path, "fixtures/a/x.py", "fixtures/a/gen_pb2.py", "fixtures/b.py")
    config = Config(root=tmp_path, exclude=("fixtures/**", "*_pb2.py"))
    # a named directory is walked even though `fixtures/**` matches it; other globs still apply below it
    assert walked(tmp_path, config, [tmp_path / "fixtures" / "a"]) == ["fixtures/a/x.py"]
    # a named file is always included
    assert walked(tmp_path, config, [tmp_path / "fixtures" / "a" / "gen_pb2.py"]) == ["fixtures/a/gen_pb2.py"]
    assert walked(tmp_path, config, [tmp_path / "fixtures" / "b.py", tmp_path / "fixtures" / "b.py"]) == ["fixtures/b.py"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_ignored_files_are_skipped(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("generated/\n*_gen.py\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("local.py\n")
    touch(tmp_path, "a.py", "generated/b.py", "c_gen.py", "sub/local.py", "sub/kept.py", "untracked/d.py")
    assert walked(tmp_path) == ["a.py", "sub/kept.py", "untracked/d.py"]
    assert walked(tmp_path, paths=[tmp_path / "sub"]) == ["sub/kept.py"]
    assert walked(tmp_path, paths=[tmp_path / "c_gen.py"]) == ["c_gen.py"]  # named explicitly


def test_without_git_nothing_is_ignored(tmp_path):
    (tmp_path / ".gitignore").write_text("*.py\n")  # not a repository: the file means nothing
    touch(tmp_path, "a.py")
    assert walked(tmp_path) == ["a.py"]


def test_symlinks_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    touch(outside, "secret.py", "lib/mod.py")
    tree = tmp_path / "tree"
    touch(tree, "a.py", "pkg/b.py")
    (tree / "link_dir").symlink_to(outside / "lib")
    (tree / "link_file.py").symlink_to(outside / "secret.py")
    (tree / "pkg" / "loop").symlink_to(tree)
    assert walked(tree) == ["a.py", "pkg/b.py"]


def test_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        iter_python_files([tmp_path / "nope"], Config(root=tmp_path))


@pytest.mark.parametrize("raw", [
    b"x = 1\r\ny = 2\r\n",
    b"\xef\xbb\xbfx = 'caf\xc3\xa9'\n",
    b"# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n",
    b"# vim: set fileencoding=cp1252 :\nx = '\x80'\r\n",
    b"x = 1\n\x0c\ny = 2  \t\n",
    b"no_final_newline = 1",
    b"",
])
def test_decode_round_trips_byte_for_byte(tmp_path, raw):
    path = tmp_path / "m.py"
    path.write_bytes(raw)
    text, encoding = read_source(path)
    assert text.encode(encoding) == raw
    assert ("\r\n" in text) == (b"\r\n" in raw)  # no newline translation
    assert not text.startswith("\ufeff")


@pytest.mark.parametrize("raw, reason", [
    (b"x = '\xff'\n", "cannot decode"),
    (b"x = 1\ny = 2\nz = '\xff'\n", "cannot decode as utf-8"),
    (b"# coding: nonsense-codec\nx = 1\n", "cannot decode"),
    (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", "cannot decode"),  # BOM and a different cookie
])
def test_undecodable_sources_raise_with_a_reason(raw, reason):
    with pytest.raises(SourceError, match=reason):
        decode_source(raw)


def test_unreadable_file_raises_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read"):
        read_source(tmp_path / "missing.py")
    (tmp_path / "dir.py").mkdir()
    with pytest.raises(SourceError, match="cannot read"):
        read_source(tmp_path / "dir.py")


def prefilter(data: bytes, config: Config) -> bool:
    """The runner's and check's byte prefilter (codemods.legacy): may these bytes mention anything legacy?"""
    return prefilter_for(config)(data)


def test_prefilter():
    config = Config()
    assert prefilter(b"from metta.agent.policy_store import PolicyStore\n", config)
    assert prefilter(b"x: 'PolicyRecord'\n", config)
    assert prefilter(b"# tinyckpt-migrate: manual: decide\n", config)
    assert prefilter(b"from .mocks import thing\n", config)
    assert not prefilter(b"import os\nclass Policy: ...\ncheckpoint = 1\n", config)
    # a module named by a plain word (metta.agent.mocks) counts only where a module name can stand
    assert not prefilter(b"# the mocks are reset between tests\nmocks = []\n", config)
    for ref in (b"from metta.agent import mocks\n", b"import metta.agent.mocks\n", b"from . import (\n    mocks,\n)\n",
                b"from .x import a, mocks\n", b"importlib.import_module('.mocks', __package__)\n"):
        assert prefilter(ref, config), ref
    custom = Config(legacy_names={"acme.old_store.OldStore": "PolicyStore"})
    assert prefilter(b"from acme import old_store\n", custom)
    assert not prefilter(b"from metta.agent.policy_store import PolicyStore\n", custom)


def test_prefilter_agrees_with_a_plain_substring_search():
    config = Config()
    samples = [b"import " + n + b"!" for n in config.needles] + [b"Polic", b"olicyStor", b"mock", b"tinyckpt", b"x" * 50]
    for data in samples:
        assert prefilter(data, config) == any(n in data for n in config.needles), data


def test_module_names(tmp_path):
    touch(tmp_path, "pyproject.toml", "pkg/__init__.py", "pkg/sub/mod.py", "src/lib/__init__.py", "src/lib/x.py",
          "nested/pyproject.toml", "nested/metta/agent/policy_store.py")
    config = Config(root=tmp_path)
    assert module_name_for(tmp_path / "pkg" / "__init__.py", config) == "pkg"
    assert module_name_for(tmp_path / "pkg" / "sub" / "mod.py", config) == "pkg.sub.mod"
    assert module_name_for(tmp_path / "src" / "lib" / "__init__.py", config) == "lib"
    assert module_name_for(tmp_path / "src" / "lib" / "x.py", config) == "lib.x"
    # an example project inside the tree is its own root
    assert module_name_for(tmp_path / "nested" / "metta" / "agent" / "policy_store.py", config) == \
        "metta.agent.policy_store"


def test_write_atomic_keeps_mode_and_writes_through_symlinks(tmp_path):
    target = tmp_path / "real.py"
    target.write_bytes(b"old\n")
    target.chmod(0o754)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_atomic(link, b"new\r\n")
    assert link.is_symlink() and target.read_bytes() == b"new\r\n"
    assert target.stat().st_mode & 0o777 == 0o754
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.py", "real.py"]  # no temp file left


def test_write_atomic_failure_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.py"
    target.write_bytes(b"old content\n")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new content\n")
    assert target.read_bytes() == b"old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("jobs, min_parallel", [(1, 64), (2, 0)])
def test_parallel_map_keeps_order_and_reports_progress(jobs, min_parallel):
    done = []
    items = list(range(300))
    assert parallel_map(_square, items, jobs, done.append, min_parallel=min_parallel) == [x * x for x in items]
    assert sum(done) == len(items) and len(done) > 1
