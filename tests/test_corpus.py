"""The migration over code we did not write: the installed standard library and the venv's packages.

Three parts, all through the real file path (`codemods.runner.run`, what `tinyckpt-migrate diff`
calls; part 2 also through the CLI's `diff --format json`):

1. every Python file of the standard library and of the venv's site-packages (over 8,000 files):
   walked, prefiltered, and every candidate parsed and migrated: no change, no deletion, no error;
2. a deterministic sample of those files, each copied with a comment that lets it past the
   prefilter, so every registered rule really runs on it: no change, no error but for files that
   genuinely fail to decode or parse (each reported, and left byte-identical after `apply`);
3. the corpus's own broken files (bad syntax, bad coding cookies, Python 2, newer-Python syntax)
   are in that sample on purpose: every one is reported, none is touched.

The counts are printed whatever pytest's capture mode. Size of the sample:
TINYCKPT_CORPUS_SAMPLE_KB (default below; the rules' cost per file sets what fits in CI).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tokenize
import warnings
from collections.abc import Callable
from pathlib import Path

import libcst as cst
import pytest

from codemods import runner
from codemods.config import Config
from codemods.files import iter_python_files
from codemods.legacy import prefilter_for

pytestmark = pytest.mark.corpus

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])  # the venv's (libcst, torch, pytest, hypothesis, ...)
JOBS = 2

#: Bytes of real files pushed through every rule (part 2); files up to MAX_SAMPLE_FILE bytes each.
SAMPLE_BYTES = int(os.environ.get("TINYCKPT_CORPUS_SAMPLE_KB", "200")) * 1024
MAX_SAMPLE_FILE = 4 * 1024
BYPASS = "\n# (tinyckpt-migrate corpus: this comment only lets the file past the prefilter)\n"

#: Files of the corpus that are broken or odd on purpose (test data of tokenizers and parsers).
_ODD = re.compile(r"(^|/)(bad[^/]*|[^/]*syntax[^/]*|[^/]*grammar[^/]*|bom|crlf|[^/]*_encoding|[^/]*coding[^/]*|"
                  r"py\d+[^/]*)\.py$")


def _config(root: Path) -> Config:
    # The interpreter's own site-packages sits inside the stdlib directory: not part of this corpus.
    return Config(root=root, exclude=("site-packages",))


def _corpus() -> dict[Path, list[Path]]:
    return {root: iter_python_files([root], _config(root)) for root in (STDLIB, SITE_PACKAGES)}


def _stat(paths: list[Path]) -> dict[Path, tuple[int, int]]:
    return {p: (st.st_size, st.st_mtime_ns) for p in paths for st in [p.stat()]}


def _report(record_property: Callable[[str, object], None], text: str) -> None:
    """Printed at the end of the run, under "measured" (tests/conftest.py; works under pytest-xdist too)."""
    record_property("summary", text)


def test_corpus_diff_changes_nothing(record_property: Callable[[str, object], None]) -> None:
    start = time.perf_counter()
    corpus = _corpus()
    scanned = candidates = 0
    for root, files in corpus.items():
        before = _stat(files)
        result = runner.run([root], _config(root), jobs=JOBS)
        assert result.files_scanned == len(files)
        assert not result.changes, [(c.path, c.deleted) for c in result.changes]
        assert not result.errors, result.errors
        assert not result.sites, result.sites[:10]
        assert _stat(files) == before  # diff never writes
        scanned += result.files_scanned
        candidates += result.candidates
    took = time.perf_counter() - start
    _report(record_property, f"corpus diff: {scanned} files scanned ({', '.join(f'{len(f)} in {r}' for r, f in corpus.items())}), "
                    f"{candidates} candidates parsed, 0 changed, 0 parse failures, in {took:.1f} s")
    assert scanned >= 5000


# -- part 2 and 3: a sample that reaches every rule ------------------------------------------------

def _key(root: Path, path: Path) -> str:
    return hashlib.sha1(f"{root.name}/{path.relative_to(root)}".encode()).hexdigest()


def _sample(corpus: dict[Path, list[Path]]) -> list[tuple[Path, Path]]:
    """(root, file): the odd files, then files in a stable pseudo-random order up to the byte budget."""
    cfg = Config()
    odd = [(r, p) for r, files in corpus.items() for p in files if _ODD.search(p.relative_to(r).as_posix())]
    odd = [(r, p) for r, p in odd if p.stat().st_size <= MAX_SAMPLE_FILE or not _python_compiles(p.read_bytes())]
    rest = sorted(((r, p) for r, files in corpus.items() for p in files), key=lambda rp: _key(*rp))
    chosen, total = list(odd), sum(p.stat().st_size for _, p in odd)
    for root, path in rest:
        size = path.stat().st_size
        if total >= SAMPLE_BYTES:
            break
        if 0 < size <= MAX_SAMPLE_FILE and (root, path) not in odd and not prefilter_for(cfg)(path.read_bytes()):
            chosen.append((root, path))
            total += size
    return chosen


def _python_compiles(data: bytes) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, "<corpus>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True


def _broken(data: bytes) -> str | None:
    """Why a file cannot be migrated, judged without the tool: it does not decode, or does not parse
    (with LibCST, or with this Python); None for a good file."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return f"decode: {exc}"
    try:
        cst.parse_module(text)
    except Exception as exc:  # noqa: BLE001 - any parser failure counts
        return f"libcst: {type(exc).__name__}"
    if not _python_compiles(data):
        return "python: SyntaxError"
    return None


def _must_report(broken: dict[Path, str]) -> set[Path]:
    """Broken files the tool must report. A file LibCST parses but this Python cannot compile (newer
    syntax) has nothing to migrate here, so it is left alone silently; it is reported once a rule
    would rewrite it (test_bytes.py::test_newer_python_syntax)."""
    return {p for p, why in broken.items() if not why.startswith("python")}


@pytest.fixture(scope="module")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, bytes], dict[Path, str]]:
    """The sample, copied (relative paths kept) with the prefilter bypass comment appended."""
    tree = tmp_path_factory.mktemp("corpus")
    (tree / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    written: dict[Path, bytes] = {}
    broken: dict[Path, str] = {}
    for root, path in _sample(_corpus()):
        data = path.read_bytes()
        data += BYPASS.encode() if data.endswith(b"\n") or not data else b"\n" + BYPASS.lstrip("\n").encode()
        target = tree / root.name / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written[target] = data
        why = _broken(data)
        if why:
            broken[target] = why
    return tree, written, broken


def test_sample_reaches_every_rule_and_changes_nothing(sample_tree, record_property: Callable[[str, object], None]) -> None:
    tree, written, broken = sample_tree
    start = time.perf_counter()
    result = runner.run([tree], Config(root=tree), jobs=JOBS)
    took = time.perf_counter() - start
    assert result.files_scanned == len(written)
    assert result.candidates == len(written)  # the bypass comment made every file a candidate

    reported = {Path(os.path.abspath(e.path)): e.message for e in result.errors}
    wrongly = {p: r for p, r in reported.items() if p not in broken}
    assert not wrongly, f"files that decode and parse fine were not processed: {wrongly}"
    unreported = sorted(_must_report(broken) - set(reported))
    assert not unreported, f"broken files not reported: {[(p, broken[p]) for p in unreported]}"
    for path, reason in reported.items():
        assert reason.startswith(("cannot parse", "cannot decode")), (path, broken[path], reason)

    changed = [(c.path, "deleted" if c.deleted else "changed") for c in result.changes]
    assert not changed, changed
    assert not result.sites, result.sites[:10]

    applied = runner.apply_changes(result)
    assert not applied.written and not applied.deleted and not applied.errors
    for path, data in written.items():
        assert path.read_bytes() == data, f"{path} was modified"

    mb = sum(map(len, written.values())) / 1e6
    _report(record_property, f"corpus sample through every rule ({len(runner.RULES)} registered): {len(written)} files "
                    f"({mb:.2f} MB) parsed and migrated, 0 changed, {len(reported)} parse/decode failures "
                    f"reported and untouched ({', '.join(sorted(p.name for p in reported))}), in {took:.1f} s")
    assert len(_must_report(broken)) >= 5  # the odd files of the corpus are in the sample


def test_sample_through_the_cli_json(sample_tree) -> None:
    """`tinyckpt-migrate diff --format json` on the broken files: listed in `errors`, exit code 2,
    nothing changed or deleted."""
    tree, written, broken = sample_tree
    only_broken = tree.parent / (tree.name + "-broken")
    shutil.rmtree(only_broken, ignore_errors=True)
    for path in _must_report(broken):
        target = only_broken / path.relative_to(tree)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(written[path])
    (only_broken / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "codemods", "diff", "--format", "json", "--jobs", "1", "."],
                          cwd=only_broken, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    data = json.loads(proc.stdout)
    assert data["files_changed"] == [] and data["files_deleted"] == [] and data["sites"] == []
    assert sorted(e["path"] for e in data["errors"]) == sorted(p.relative_to(tree).as_posix() for p in _must_report(broken))
    assert all(e["message"].startswith(("cannot parse", "cannot decode")) for e in data["errors"]), data["errors"]
    for path in _must_report(broken):
        assert (only_broken / path.relative_to(tree)).read_bytes() == written[path]
