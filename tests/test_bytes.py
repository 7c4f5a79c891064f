"""Bytes on disk through the real file path (`codemods.runner.run` + `apply_changes`).

Where nothing is legacy, a file comes back byte for byte (CRLF, BOM, a latin-1 coding cookie,
tabs, form feeds, very long lines, a 5 MB module), also when it reaches every rule. Where there
is a legacy site, the rewrite is the one the engine makes for the plain LF/UTF-8 text, written
back in the file's own newline style and encoding.
"""

from __future__ import annotations

import ast
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codemods import runner
from codemods.config import Config
from codemods.engine import migrate_source, migrate_tree
from codemods.files import decode_source, encode_source
from codemods.legacy import prefilter_for
from codemods.rules import RULES

#: A comment that lets a file past the prefilter, so the rules run on it (nothing legacy in it).
BYPASS = "# checked by tinyckpt-migrate\n"


def _run(tmp_path: Path, name: str, data: bytes, *, rules=None) -> tuple[runner.RunResult, runner.Applied, Path]:
    """`apply` on one file in its own project directory."""
    project = tmp_path / name.replace("/", "_")
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    result = runner.run([project], Config(root=project), rules=rules, jobs=1)
    return result, runner.apply_changes(result), path


def _untouched(tmp_path: Path, name: str, data: bytes, *, rules=None) -> runner.RunResult:
    result, applied, path = _run(tmp_path, name, data, rules=rules)
    assert not result.errors, result.errors
    assert result.candidates == (1 if prefilter_for(Config()).classify(data) == "strong" else 0)
    assert not result.changes, result.changes[0].new_text if result.changes else None
    assert not result.sites and not applied.written and not applied.deleted
    assert path.read_bytes() == data
    return result


# -- nothing legacy: byte for byte ---------------------------------------------------------------

PLAIN = (
    '"""A module with nothing legacy in it."""\n'
    "import os\n"
    "\n"
    "\n"
    "class PolicyStoreClient:  # a name that merely looks legacy\n"
    "    def policy_record(self, uri):\n"
    "        return os.path.basename(uri)   \n"  # trailing whitespace
    "\n"
    "\n"
    "def load_agent(path, *, strict=True):\n"
    "    return {'path': path, 'strict': strict}\n"
)

NO_LEGACY_CASES = {
    "lf.py": (BYPASS + PLAIN).encode(),
    "crlf.py": (BYPASS + PLAIN).replace("\n", "\r\n").encode(),
    "bom.py": b"\xef\xbb\xbf" + (BYPASS + PLAIN).encode(),
    "bom_crlf.py": b"\xef\xbb\xbf" + (BYPASS + PLAIN).replace("\n", "\r\n").encode(),
    "latin1.py": ("# -*- coding: latin-1 -*-\n" + BYPASS + PLAIN + "NAME = 'café déjà vu'  # é\n").encode("latin-1"),
    "cp1252_crlf.py": ("# coding: cp1252\r\n" + (BYPASS + PLAIN).replace("\n", "\r\n") + "QUOTE = '\u201cok\u201d'\r\n")
    .encode("cp1252"),
    "tabs.py": (BYPASS + PLAIN.replace("    ", "\t")).encode(),
    "form_feed.py": (BYPASS + PLAIN.replace("\n\n\ndef", "\n\n\f\ndef") + "\f\n# end\n").encode(),
    # long lines: a 200,000-character string, a 20,000-character comment, a 300-element list
    # (each list element costs every rule a few LibCST visits: see LONG_TABLE for the long one)
    "long_line.py": (BYPASS + PLAIN + "TEXT = '" + "x" * 200_000 + "'  # " + "y" * 20_000 + "\n"
                     + "TABLE = [" + ", ".join(str(i) for i in range(300)) + "]\n").encode(),
    "no_final_newline.py": (BYPASS + PLAIN + "last = 1").encode(),
    "empty_with_comment.py": BYPASS.encode(),
    "utf8_names.py": (BYPASS + "def größe(ä: int) -> int:\n    return ä * 2  # ü\n").encode(),
    "backslash_continuation.py": (BYPASS + "total = 1 + \\\n    2 + \\\n\t3\n").encode(),
}


def test_no_legacy_files_reach_the_rules_and_stay_byte_identical(tmp_path: Path) -> None:
    """Every case in one project, one run (two workers): decoded, parsed, every rule, re-encoded."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    for name, data in NO_LEGACY_CASES.items():
        (project / name).write_bytes(data)
    result = runner.run([project], Config(root=project), jobs=2)
    assert result.files_scanned == result.candidates == len(NO_LEGACY_CASES)
    assert not result.errors, result.errors
    assert not result.changes, {c.path: c.new_text for c in result.changes}
    assert not result.sites
    applied = runner.apply_changes(result)
    assert not applied.written and not applied.deleted
    for name, data in NO_LEGACY_CASES.items():
        assert (project / name).read_bytes() == data, name


#: A 400,000-character line of 40,000 list elements (prefiltered out: a rule pass over it takes minutes).
LONG_TABLE = "TABLE = [" + ", ".join(str(i) for i in range(40_000)) + "]\n"


@pytest.mark.parametrize("name", ["crlf.py", "latin1.py", "long_line.py"])
def test_no_legacy_file_skipped_by_the_prefilter_is_byte_identical(tmp_path: Path, name: str) -> None:
    data = NO_LEGACY_CASES[name].replace(BYPASS.encode(), b"").replace(BYPASS.replace("\n", "\r\n").encode(), b"")
    data = data.replace(b"PolicyStoreClient", b"StoreClient").replace(b"policy_record", b"record_for") + LONG_TABLE.encode()
    assert prefilter_for(Config()).classify(data) is None
    _untouched(tmp_path, name, data)


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


def test_five_megabyte_module(tmp_path: Path) -> None:
    text = _big_module(5 * 1024 * 1024)
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    assert len(data) >= 5 * 1024 * 1024
    # what `diff`/`apply` do with it: the prefilter sees nothing legacy; never parsed, never written
    _untouched(tmp_path, "big_plain/module.py", data)


def test_one_megabyte_module_parsed_and_regenerated() -> None:
    """The byte path when such a module is parsed: decode (BOM, CRLF kept), LibCST parse and code
    generation, compile, re-encode. 1 MB (LibCST parses about 0.15 MB/s of CPU here; the rules
    cost far more, so they are left out: test_no_legacy_files_reach_the_rules... runs them)."""
    text = _big_module(1024 * 1024)
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    decoded, encoding = decode_source(data)
    result = migrate_source(decoded, "big/module.py", rules=[])
    assert result.error is None and not result.changed
    assert encode_source(result.new_source, encoding) == data


# -- a legacy site: the same rewrite, in the file's own newlines and encoding ---------------------

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


def _has_rule(name: str) -> bool:
    return any(rule.NAME == name for rule in RULES)


needs_checkpoint_manager = pytest.mark.skipif(
    not _has_rule("checkpoint_manager"),
    reason="no registered rule rewrites SimpleCheckpointManager yet (codemods.rules.RULES)",
)


def _expected(text: str) -> str:
    result = migrate_source(text, "app/train.py", module_name="app.train", package_name="app")
    assert result.error is None and result.changed, result.error
    assert "SimpleCheckpointManager" not in result.new_source
    return result.new_source


LEGACY_CASES = {
    # name: (text transform, newline, encoding, prefix bytes)
    "lf.py": (lambda t: t, "\n", "utf-8", b""),
    "crlf.py": (lambda t: t, "\r\n", "utf-8", b""),
    "bom_crlf.py": (lambda t: t, "\r\n", "utf-8", b"\xef\xbb\xbf"),
    "latin1.py": (lambda t: "# -*- coding: latin-1 -*-\n" + t.replace("# resumed", "# repris à l'époque"),
                  "\n", "latin-1", b""),
    "tabs.py": (lambda t: t.replace("    ", "\t"), "\n", "utf-8", b""),
    "form_feed.py": (lambda t: t.replace("\n\n\ndef", "\n\n\f\ndef"), "\n", "utf-8", b""),
}


@needs_checkpoint_manager
def test_legacy_files_are_rewritten_in_their_own_newlines_and_encoding(tmp_path: Path) -> None:
    """Each case is the same legacy module in another byte form, all in one project and one run."""
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    expected: dict[str, bytes] = {}
    for name, (transform, newline, encoding, prefix) in LEGACY_CASES.items():
        text = transform(LEGACY)
        expected[name] = prefix + _expected(text).replace("\n", newline).encode(encoding)
        (project / "app" / name).write_bytes(prefix + text.replace("\n", newline).encode(encoding))
    result = runner.run([project], Config(root=project), jobs=2)
    assert not result.errors, result.errors
    applied = runner.apply_changes(result)
    assert sorted(applied.written) == sorted(c.path for c in result.changes)
    assert len(applied.written) == len(LEGACY_CASES) and not applied.deleted
    assert result.sites and all(s.outcome == "migrated" for s in result.sites)
    for name, (_, newline, _, _) in LEGACY_CASES.items():
        out = (project / "app" / name).read_bytes()
        assert out == expected[name], name
        if newline == "\r\n":
            assert out.count(b"\n") == out.count(b"\r\n"), name
        if name == "tabs.py":
            assert not [line for line in out.splitlines() if line.startswith(b" ")]
        compile(out, name, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    again = runner.run([project], Config(root=project), jobs=2)  # a second run finds nothing more to do
    assert not again.changes and not again.errors


@needs_checkpoint_manager
@pytest.mark.skipif(not shutil.which("git") or not shutil.which("patch"), reason="needs git and patch")
def test_the_diff_applies_with_git_apply_and_patch_in_every_encoding(tmp_path: Path) -> None:
    """`diff`'s output is a patch in each file's own bytes: `git apply` and `patch -p1` turn the legacy
    tree into exactly what `apply` writes (a latin-1 file's patch used to carry UTF-8 text)."""
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    for name, (transform, newline, encoding, prefix) in LEGACY_CASES.items():
        (project / "app" / name).write_bytes(prefix + transform(LEGACY).replace("\n", newline).encode(encoding))
    (project / "app" / "metta_rl.py").write_bytes(b"")  # an untouched file
    copies = {how: tmp_path / how for how in ("git", "patch", "apply")}
    for copy in copies.values():
        shutil.copytree(project, copy)
    done = subprocess.run([sys.executable, "-m", "codemods", "diff", "--jobs", "1", "."], cwd=project,
                          capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr
    patch = done.stdout.split(b"\n\nfile ", 1)[0] + b"\n"  # the diff, without the summary table
    (tmp_path / "p.diff").write_bytes(patch)
    subprocess.run(["git", "init", "-q"], cwd=copies["git"], check=True)
    subprocess.run(["git", "apply", str(tmp_path / "p.diff")], cwd=copies["git"], check=True, capture_output=True)
    subprocess.run(["patch", "-p1", "-s", "-i", str(tmp_path / "p.diff")], cwd=copies["patch"], check=True,
                   capture_output=True)
    result = runner.run([copies["apply"]], Config(root=copies["apply"]), jobs=1)
    assert runner.apply_changes(result).errors == [] and len(result.changes) == len(LEGACY_CASES)
    for name in LEGACY_CASES:
        want = (copies["apply"] / "app" / name).read_bytes()
        assert (copies["git"] / "app" / name).read_bytes() == want, name
        assert (copies["patch"] / "app" / name).read_bytes() == want, name


# -- what LibCST cannot reproduce, and syntax this Python does not know ----------------------------
# (found by these tests and test_properties.py; the engine now leaves such files untouched)

@pytest.mark.parametrize("data", [(BYPASS + "x = 1\r").encode(), (BYPASS + "x = 1\ry = 2\r").encode(),
                                  (BYPASS + "pass\n\n ").encode()],
                         ids=["bare_cr_at_end", "bare_cr_lines", "whitespace_only_last_line"])
def test_files_libcst_does_not_reproduce_are_untouched(tmp_path: Path, data: bytes) -> None:
    import libcst as cst

    text = data.decode()
    assert cst.parse_module(text).code != text  # still LibCST's behaviour (else this test is moot)
    _untouched(tmp_path, "odd.py", data)


@needs_checkpoint_manager
def test_legacy_file_libcst_does_not_reproduce_is_reported_and_untouched(tmp_path: Path) -> None:
    data = LEGACY.replace("\n", "\r").encode()  # bare CR line endings: LibCST drops the last one
    result, applied, path = _run(tmp_path, "app/cr.py", data)
    assert not result.changes and not applied.written
    assert [e.message.split(":")[0] for e in result.errors] == ["cannot rewrite"], result.errors
    assert path.read_bytes() == data


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="this Python compiles PEP 695 syntax")
def test_newer_python_syntax(tmp_path: Path) -> None:
    newer = "\n\ndef ident[T](a: T) -> T:\n    return a\n"
    # nothing legacy: untouched, nothing to report
    _untouched(tmp_path, "new_syntax.py", (BYPASS + newer).encode())
    if not _has_rule("checkpoint_manager"):
        return
    # a legacy site in a file this Python cannot compile: a parse error, not an "internal error"
    data = (LEGACY + newer).encode()
    result, applied, path = _run(tmp_path, "app/new_syntax.py", data)
    assert not result.changes and not applied.written and path.read_bytes() == data
    assert len(result.errors) == 1 and result.errors[0].message.startswith("cannot parse"), result.errors


# -- constant data kept out of LibCST (codemods/literals.py) ------------------------------------

def _data_module(newline: str) -> str:
    rng = random.Random(3)
    parts = []
    for n in range(30):
        items = ", ".join(f'{i!r}: ({rng.random()!r}, "ünï {i}")' for i in range(40))
        names = "".join(f"    'name_{n}_{i}',  # comment {i}\n" for i in range(12))
        parts.append(f"\nTABLE_{n} = {{{items}}}\nNAMES_{n}: list = [\n{names}]\nPAIR_{n} = ({n}, -{n}.5, None, True)\n")
    tables = "".join(parts)
    tail = ("\n\ndef load(run_name):\n    mgr = SimpleCheckpointManager(run_dir=f\"./train_dir/{run_name}\", "
            "run_name=run_name)\n    return mgr.load_agent(), TABLE_3, NAMES_4[0]\n")
    return (LEGACY + tables + "__all__ = ['resume', 'load']\n" + tail).replace("\n", newline)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_big_constant_literals_stay_out_of_the_parse_and_change_nothing(monkeypatch, newline: str) -> None:
    from codemods import literals

    text = _data_module(newline)
    monkeypatch.setattr(literals, "MIN_MODULE", 1)
    reduced, stand_ins = literals.shrink(text)
    assert len(stand_ins) == 60 and len(reduced) < len(text) / 3  # the TABLE_ dicts and NAMES_ lists (PAIR_ is small)
    assert reduced.count(newline) == text.count(newline)  # every line keeps its number
    shrunk = migrate_tree([(text, "pkg/module.py", "pkg.module", "pkg")])[0]
    monkeypatch.setattr(literals, "MIN_MODULE", 10**12)
    whole = migrate_tree([(text, "pkg/module.py", "pkg.module", "pkg")])[0]
    assert shrunk.error is None and shrunk.changed
    assert shrunk.new_source == whole.new_source
    assert shrunk.sites == whole.sites
    assert [(s.line, s.rule) for s in shrunk.sites if s.rule == "checkpoint_manager"][-2:] == [
        (text.count(newline, 0, text.index("    mgr = SimpleCheckpointManager(run_dir=f\"./train_dir/{run_name}\", "
                                                 "run_name=run_name)" + newline + "    return")) + 1, "checkpoint_manager"),
        (text.count(newline, 0, text.index("    return mgr.load_agent()")) + 1, "checkpoint_manager")]
    for n in (0, 29):  # the data, byte for byte
        start = text.index(f"TABLE_{n} = ")
        assert text[start:text.index(newline, start)] in shrunk.new_source


def test_a_rewrite_that_reaches_a_stand_in_is_refused() -> None:
    from codemods import literals

    assert literals.restore('x = ["tinyckpt-data-ab-0"]\n', {'["tinyckpt-data-ab-0"]': "[1, 2]"}) == "x = [1, 2]\n"
    assert literals.restore("x = []\n", {'["tinyckpt-data-ab-0"]': "[1, 2]"}) is None
