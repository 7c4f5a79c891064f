"""`tinyckpt-migrate check`: each reference form found (with its position), near misses not, every
output format, suppressions, baseline, --docs, bad input and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codemods import version
from codemods.check import CODES, Finding, check_doc, check_source
from codemods.check_command import add_check_arguments, run_check
from codemods.config import Config, find_config

PS = "metta.agent.policy_store.PolicyStore"
PR = "metta.agent.policy_record.PolicyRecord"


def scan(source: str, module_name: str | None = None, path: str = "x.py", **kw) -> list[tuple[int, int, str, str]]:
    found = check_source(textwrap.dedent(source), path, Config(), module_name, **kw)
    return [(f.line, f.column, f.code, f.name) for f in found]


def codes(source: str, **kw) -> list[str]:
    return [c for _, _, c, _ in scan(source, **kw)]


# -- imports ---------------------------------------------------------------------------------------

def test_module_level_from_import_alias_and_uses():
    assert scan("""\
        from metta.agent.policy_store import PolicyStore as PStore
        store = PStore(device="cpu")
        """) == [(1, 38, "TCK001", PS), (2, 9, "TCK002", PS)]


def test_lazy_import_in_a_function_and_its_uses():
    assert scan("""\
        def load(uri):
            from metta.agent.policy_store import PolicyStore
            return PolicyStore().policy_record(uri)

        def other():
            return PolicyStore  # not bound here: the import is local to load()
        """) == [(2, 42, "TCK001", PS), (3, 12, "TCK002", PS)]


def test_type_checking_import_and_annotation_use():
    assert scan("""\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from metta.agent.policy_record import PolicyRecord  # noqa: F401
        def f(pr: PolicyRecord) -> None: ...
        """) == [(3, 43, "TCK001", PR), (4, 11, "TCK002", PR)]


def test_relative_import_resolved_with_the_module_name():
    source = """\
        from .policy_store import PolicyStore
        from .. import agent
        x = PolicyStore()
        """
    assert scan(source, module_name="metta.agent.trainer") == [(1, 27, "TCK001", PS), (3, 5, "TCK002", PS)]
    # in a package's __init__, `.` is the package itself
    assert scan("from .policy_cache import PolicyCache\n", module_name="metta.agent", path="metta/agent/__init__.py") \
        == [(1, 27, "TCK001", "metta.agent.policy_cache.PolicyCache")]
    # elsewhere the same text means another module: nothing legacy
    assert scan(source, module_name="myproj.sub.trainer") == []
    assert scan(source) == []  # no module name: a relative import cannot be matched


def test_import_module_as_alias_then_attribute_access():
    assert scan("""\
        import metta.agent.policy_store as ps
        store = ps.PolicyStore.create("cpu", "./train_dir", {})
        helper = ps.helper
        """) == [(1, 8, "TCK001", "metta.agent.policy_store"), (2, 9, "TCK002", PS),
                 (3, 10, "TCK002", "metta.agent.policy_store.helper")]


def test_plain_dotted_import_then_full_path_use():
    assert scan("""\
        import metta.sim.policy_wrapper
        import metta.common
        w = metta.sim.policy_wrapper.PolicyWrapper(None)
        c = metta.common.thing
        """) == [(1, 8, "TCK001", "metta.sim.policy_wrapper"), (3, 5, "TCK002", "metta.sim.policy_wrapper.PolicyWrapper")]


def test_from_package_import_legacy_submodule():
    assert scan("""\
        from metta.agent import policy_store, agent
        policy_store.PolicyStore()
        agent.make()
        """) == [(1, 25, "TCK001", "metta.agent.policy_store"), (2, 1, "TCK002", PS)]


def test_re_exports_of_legacy_modules_map_to_their_class():
    found = check_source(textwrap.dedent("""\
        from metta.agent.mocks import MockPolicyRecord
        from metta.sim.policy_wrapper import PolicyRecord
        from metta.agent.policy_store import PolicyRecord as PR2
        """), "x.py", Config())
    assert [(f.line, f.code, f.name) for f in found] == [
        (1, "TCK001", "metta.agent.mocks.MockPolicyRecord"),
        (2, "TCK001", "metta.sim.policy_wrapper.PolicyRecord"),
        (3, "TCK001", "metta.agent.policy_store.PolicyRecord"),
    ]
    assert "PolicyWrapper" in found[1].message  # the alias PolicyRecord = PolicyWrapper


def test_star_import_binds_the_legacy_names():
    assert scan("""\
        from metta.agent.policy_store import *
        x = PolicyStore()
        y = Unrelated()
        """) == [(1, 38, "TCK001", "metta.agent.policy_store.*"), (2, 5, "TCK002", PS)]


def test_all_entries_and_commented_out_imports():
    assert scan("""\
        from metta.agent.policy_cache import PolicyCache
        # from metta.agent.policy_store import PolicyStore, PolicySelectorType
        # import metta.rl.trainer_checkpoint
        # from metta.agent import agent
        __all__ = ["PolicyCache", "other"]
        """) == [(1, 38, "TCK001", "metta.agent.policy_cache.PolicyCache"),
                 (2, 1, "TCK008", "metta.agent.policy_store"),
                 (3, 1, "TCK008", "metta.rl.trainer_checkpoint"),
                 (5, 12, "TCK002", "metta.agent.policy_cache.PolicyCache")]


# -- shadowing and unrelated names -----------------------------------------------------------------

def test_parameter_local_class_and_comprehension_shadow_the_import():
    assert scan("""\
        from metta.agent.policy_store import PolicyStore

        def by_param(PolicyStore):
            return PolicyStore()

        def by_class():
            class PolicyStore:
                pass
            return PolicyStore()

        names = [PolicyStore for PolicyStore in range(3)]

        class Holder:
            PolicyStore = None
            def method(self):
                return PolicyStore()  # class attributes are not visible in methods: the import
        """) == [(1, 38, "TCK001", PS), (16, 16, "TCK002", PS)]


def test_global_declaration_reaches_the_module_import():
    assert codes("""\
        from metta.agent.policy_store import PolicyStore
        def f():
            global PolicyStore
            return PolicyStore()
        """) == ["TCK001", "TCK002"]


def test_own_class_with_a_legacy_name_is_not_reported():
    source = """\
        from metta.common.snapshots import CheckpointManager
        from mylib.store import PolicyStore
        from tinyckpt import PolicyMetadata

        class PolicyRecord:
            def policy_record(self): ...

        store = PolicyStore()
        store.policy_record("x")
        pr: "PolicyRecord" = PolicyRecord()
        pr.policy_record()
        meta = PolicyMetadata(epoch=1)
        CheckpointManager(run_dir="r", run_name="n").load_agent()
        """
    assert scan(source) == []


# -- strings ---------------------------------------------------------------------------------------

def test_string_annotations_are_parsed():
    assert scan("""\
        from typing import Optional, cast
        from metta.agent.policy_record import PolicyRecord
        def f(a: "PolicyRecord", b: "Optional[PolicyRecord]") -> "list[Optional['PolicyRecord']]":
            x: "PolicyRecord | None" = None
            return cast("PolicyRecord", a)
        def g(a: "NotLegacy", b: "not valid python(") -> None: ...
        """) == [(2, 39, "TCK001", PR), (3, 11, "TCK005", PR), (3, 39, "TCK005", PR), (3, 74, "TCK005", PR),
                 (4, 9, "TCK005", PR), (5, 18, "TCK005", PR)]


def test_string_annotation_with_a_dotted_module_path():
    assert scan("""\
        import metta.agent.policy_store
        def f(s: "metta.agent.policy_store.PolicyStore") -> None: ...
        """) == [(1, 8, "TCK001", "metta.agent.policy_store"), (2, 11, "TCK005", PS)]
    # `metta` not bound: not a name this module can use, but still a legacy path in a string
    assert scan('def g(s: "metta.agent.policy_cache.PolicyCache") -> None: ...\n') == [
        (1, 11, "TCK004", "metta.agent.policy_cache.PolicyCache")]


def test_dynamic_imports():
    assert scan("""\
        import importlib
        from importlib import import_module as im
        a = importlib.import_module("metta.agent.policy_store")
        b = __import__("metta.sim.simple_policy_store")
        c = im(".policy_cache", package="metta.agent")
        d = importlib.import_module("metta.agent.agent")
        """) == [(3, 30, "TCK003", "metta.agent.policy_store"), (4, 17, "TCK003", "metta.sim.simple_policy_store"),
                 (5, 9, "TCK003", "metta.agent.policy_cache")]


def test_own_import_module_function_is_not_a_dynamic_import():
    # not importlib's: still a legacy path in a string, but not a dynamic import
    assert codes("""\
        def import_module(name): ...
        import_module("metta.agent.policy_store")
        """) == ["TCK004"]


def test_dotted_legacy_paths_in_strings_and_docstrings():
    assert scan('''\
        """Module docs.

        See metta.agent.policy_record.PolicyRecord for the old record.
        """
        from unittest import mock
        p = mock.patch("metta.agent.policy_store.PolicyStore.policy_record")
        q = "metta.agent.policy_store_v2.Thing and xmetta.agent.policy_store and PolicyStore"
        r = f"{p}: metta.rl.trainer_checkpoint"
        ''') == [(3, 5, "TCK004", PR), (6, 17, "TCK004", "metta.agent.policy_store.PolicyStore.policy_record"),
                 (8, 12, "TCK004", "metta.rl.trainer_checkpoint")]


def test_repeated_dotted_paths_in_one_string_each_at_their_place():
    assert scan('''\
        x = 1; doc = """Use metta.agent.policy_store.PolicyStore,
        not metta.agent.policy_store, nor metta.agent.policy_store."""
        ''') == [(1, 21, "TCK004", PS), (2, 5, "TCK004", "metta.agent.policy_store"),
                 (2, 35, "TCK004", "metta.agent.policy_store")]


def test_manual_markers():
    assert scan("""\
        x = 1
        # tinyckpt-migrate: manual: choose a selector for "top"
        y = "# tinyckpt-migrate: manual: in a string is not a marker"
            # tinyckpt-migrate: manual: indented
        """) == [(2, 1, "TCK100", "manual-marker"), (4, 5, "TCK100", "manual-marker")]
    found = check_source("# tinyckpt-migrate: manual: choose a selector\n", "x.py", Config())
    assert found[0].message == "manual migration marker left: choose a selector"


# -- instances -------------------------------------------------------------------------------------

def test_calls_on_legacy_instances():
    assert scan("""\
        from typing import Optional
        from metta.agent.policy_store import PolicyStore
        from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager as SCM

        store = PolicyStore()
        store.policy_record("a")
        other = store
        other.policy_records("b")

        def f(s: PolicyStore, m: "Optional[SCM]" = None, n: int = 0):
            s.load_from_uri("c")
            m.load_agent()
            n.bit_length()

        class Trainer:
            def __init__(self, uri: str):
                self.mgr = SCM.create(uri)
            def step(self):
                self.mgr.save_agent(1, 2, {})
                def inner():
                    return self.mgr.load_trainer_state()
                return inner
        """) == [(2, 38, "TCK001", PS), (3, 48, "TCK001", "metta.rl.simple_checkpoint_manager.SimpleCheckpointManager"),
                 (5, 9, "TCK002", PS), (6, 1, "TCK006", "PolicyStore.policy_record"),
                 (8, 1, "TCK006", "PolicyStore.policy_records"),
                 (10, 10, "TCK002", PS), (10, 36, "TCK005", "metta.rl.simple_checkpoint_manager.SimpleCheckpointManager"),
                 (11, 5, "TCK006", "PolicyStore.load_from_uri"), (12, 5, "TCK006", "SimpleCheckpointManager.load_agent"),
                 (17, 20, "TCK002", "metta.rl.simple_checkpoint_manager.SimpleCheckpointManager"),
                 (19, 9, "TCK006", "SimpleCheckpointManager.save_agent"),
                 (21, 20, "TCK006", "SimpleCheckpointManager.load_trainer_state")]


def test_calls_on_dataclass_fields_of_a_legacy_type():
    assert scan("""\
        from dataclasses import dataclass
        from metta.agent.policy_store import PolicyStore

        @dataclass
        class Simulation:
            policy_store: "PolicyStore"
            name: str = "sim"

            def run(self, uri):
                self.name.upper()
                return self.policy_store.policy_record(uri)
        """) == [(2, 38, "TCK001", PS), (6, 20, "TCK005", PS), (11, 16, "TCK006", "PolicyStore.policy_record")]


def test_calls_on_what_a_function_annotated_with_a_legacy_class_returns():
    assert codes("""\
        from typing import Optional
        from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager

        def open_run(name) -> "Optional[SimpleCheckpointManager]":
            return None

        def other(name) -> int:
            return 0

        mgr = open_run("run")
        mgr.load_agent()
        other("x").bit_length()
        n = other("x")
        n.bit_length()
        """) == ["TCK001", "TCK005", "TCK006"]


def test_containers_of_legacy_objects_are_not_instances():
    assert codes("""\
        from metta.agent.policy_record import PolicyRecord
        def f(records: list[PolicyRecord]):
            records.append(None)
        """) == ["TCK001", "TCK002"]


# -- legacy modules, positions, robustness ---------------------------------------------------------

def test_a_legacy_module_is_reported_once_plus_its_references():
    source = """\
        from metta.agent.policy_record import PolicyRecord

        class PolicyStore:
            def policy_record(self, uri) -> PolicyRecord: ...
        """
    assert scan(source, module_name="metta.agent.policy_store") == [
        (1, 1, "TCK007", "metta.agent.policy_store"), (1, 39, "TCK001", PR), (4, 37, "TCK002", PR)]
    assert scan("x = 1\n", module_name="metta.agent.mocks.mock_policy_record", path="mock_policy_record.py") == [
        (1, 1, "TCK007", "metta.agent.mocks.mock_policy_record")]


def test_columns_are_characters_not_bytes():
    assert scan("""\
        from metta.agent.policy_store import PolicyStore
        é = "ü"; s = PolicyStore()
        """)[1] == (2, 14, "TCK002", PS)


@pytest.mark.parametrize("source, reason", [
    ("def f(:\n    pass\n", "cannot parse"),
    ("x = 1\n\0\n", "cannot parse"),
    ("from metta.agent.policy_store import PolicyStore\n  y = 2\n", "cannot parse"),
])
def test_a_file_that_does_not_parse_is_one_tck900_finding(source, reason):
    found = check_source(source, "bad.py", Config())
    assert len(found) == 1 and found[0].code == "TCK900" and reason in found[0].message
    assert found[0].path == "bad.py" and found[0].line >= 1 and found[0].column >= 1


def test_never_raises_on_real_code():
    import random
    files = sorted(Path(os.path.dirname(argparse.__file__)).glob("*.py"))
    for file in random.Random(0).sample(files, min(40, len(files))):
        found = check_source(file.read_text(encoding="utf-8", errors="replace"), str(file), Config(), file.stem)
        assert found == [], file  # no crash, and nothing legacy in the standard library


# -- suppressions ----------------------------------------------------------------------------------

def test_noqa_suppresses_only_our_codes():
    source = """\
        from metta.agent.policy_store import PolicyStore  # noqa: F401
        a = PolicyStore()  # noqa: TCK002
        b = PolicyStore()  # noqa: E501, TCK
        c = PolicyStore()  # noqa
        d = PolicyStore()  # noqa: TCK001
        e = "PolicyStore()  # noqa: TCK002"; PolicyStore()
        """
    assert [(line, code) for line, _, code, _ in scan(source)] == [(1, "TCK001"), (4, "TCK002"), (5, "TCK002"),
                                                                   (6, "TCK002")]
    assert len(scan(source, suppressions=False)) == 6
    docstring = '''\
        """Docs.

        Replaces metta.agent.policy_store.PolicyStore.
        """  # noqa: TCK004
        '''
    assert scan(docstring) == [] and codes(docstring, suppressions=False) == ["TCK004"]


# -- docs ------------------------------------------------------------------------------------------

def test_docs_plain_text_search():
    text = "Use `PolicyStore` and metta.agent.policy_store.PolicyStore.\nSimplePolicyStore too. <!-- noqa: TCK200 -->\n" \
           "MyPolicyStoreX is not a match; SimpleCheckpointManager is.\n"
    found = check_doc(text, "README.md", Config())
    assert [(f.line, f.column, f.code, f.name) for f in found] == [
        (1, 6, "TCK200", "PolicyStore"), (1, 23, "TCK200", PS), (3, 32, "TCK200", "SimpleCheckpointManager")]
    assert len(check_doc(text, "README.md", Config(), suppressions=False)) == 4


# -- the command: formats, exit codes, baseline ----------------------------------------------------

def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def run(capsys, root: Path, *argv: str, paths: list[str] | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    add_check_arguments(parser)
    args = parser.parse_args([*argv, *(paths or ["."])])
    code = run_check(args, find_config(root))
    out, err = capsys.readouterr()
    return code, out, err


LEGACY_TREE = {
    "pkg/__init__.py": "",
    "pkg/train.py": """\
        from metta.agent.policy_store import PolicyStore

        def main():
            store = PolicyStore()
            return store.policy_record("file://x")
        """,
    "pkg/clean.py": "import os\nprint(os.sep)\n",
    "pkg/own.py": "class PolicyStore:\n    pass\n",
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    write_tree(tmp_path, LEGACY_TREE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_text_format_and_exit_1(tree, capsys):
    code, out, _ = run(capsys, tree)
    assert code == 1
    assert out.splitlines() == [
        "pkg/train.py:1:38: TCK001 import of legacy PolicyStore from metta.agent.policy_store",
        "pkg/train.py:4:13: TCK002 use of legacy PolicyStore",
        "pkg/train.py:5:12: TCK006 call store.policy_record() on a legacy PolicyStore instance",
        "Found 3 legacy references in 1 file (4 files scanned).",
    ]


def test_json_format_exact_shape(tree, capsys):
    code, out, _ = run(capsys, tree, "--format", "json")
    data = json.loads(out)
    assert code == 1 and set(data) == {"files_scanned", "findings", "version"} and data["files_scanned"] == 4
    assert data["findings"][0] == {"path": "pkg/train.py", "line": 1, "column": 38, "code": "TCK001",
                                   "name": PS, "message": "import of legacy PolicyStore from metta.agent.policy_store"}
    assert all(list(f) == ["path", "line", "column", "code", "name", "message"] for f in data["findings"])
    assert [f["code"] for f in data["findings"]] == ["TCK001", "TCK002", "TCK006"]


def test_paths_are_relative_to_the_current_directory(tree, capsys, monkeypatch):
    monkeypatch.chdir(tree / "pkg")
    _, out, _ = run(capsys, tree, "--format", "json", paths=[str(tree / "pkg" / "train.py")])
    assert {f["path"] for f in json.loads(out)["findings"]} == {"train.py"}


def test_github_format(tree, capsys):
    (tree / "pkg" / "odd, name.py").write_text("import metta.agent.policy_cache  # 100% legacy\n")
    code, out, _ = run(capsys, tree, "--format", "github")
    lines = out.splitlines()
    assert code == 1 and len(lines) == 4
    assert lines[0] == "::error file=pkg/odd%2C name.py,line=1,col=8,title=TCK001::import of legacy module metta.agent.policy_cache"
    assert lines[3] == "::error file=pkg/train.py,line=5,col=12,title=TCK006::call store.policy_record() on a legacy PolicyStore instance"


def test_sarif_format(tree, capsys):
    code, out, _ = run(capsys, tree, "--format", "sarif")
    log = json.loads(out)
    assert code == 1 and log["version"] == "2.1.0" and "sarif" in log["$schema"]
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(CODES)
    results = run_["results"]
    assert [r["ruleId"] for r in results] == ["TCK001", "TCK002", "TCK006"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"] and result["level"] == "error"
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "pkg/train.py"
        assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 38}
    (tree / "pkg" / "a b.py").write_text("import metta.agent.policy_cache\n")
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(run(capsys, tree, "--format", "sarif")[1])["runs"][0]["results"]]
    assert uris[0] == "pkg/a%20b.py"


def test_clean_tree_exits_0(tmp_path, capsys, monkeypatch):
    write_tree(tmp_path, {"a.py": "import os\n", "b.py": "class PolicyStore: ...\nPolicyStore()\n"})
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, tmp_path)
    assert code == 0 and out == "No legacy references found (2 files scanned).\n"
    code, out, _ = run(capsys, tmp_path, "--format", "json")
    assert code == 0 and json.loads(out) == {"files_scanned": 2, "findings": [], "version": version()}


def test_bad_files_are_reported_and_exit_2(tree, capsys):
    (tree / "pkg" / "broken.py").write_text("from metta.agent.policy_store import PolicyStore\ndef f(:\n")
    (tree / "pkg" / "latin.py").write_bytes(b"# policy_store \xff\xfe\n")
    (tree / "pkg" / "unrelated_broken.py").write_text("def f(:\n")  # nothing legacy can be in it: not parsed
    code, out, _ = run(capsys, tree, "--format", "json")
    data = json.loads(out)
    errors = {f["path"]: f for f in data["findings"] if f["code"] == "TCK900"}
    assert code == 2 and set(errors) == {"pkg/broken.py", "pkg/latin.py"}
    assert "decode" in errors["pkg/latin.py"]["message"]
    assert errors["pkg/broken.py"]["line"] == 2 and "cannot parse" in errors["pkg/broken.py"]["message"]
    assert len(data["findings"]) == 5  # the rest of the run completed
    code, out, _ = run(capsys, tree)
    assert code == 2 and out.splitlines()[-1].endswith("2 files could not be processed.")


def test_usage_errors_exit_2(tree, capsys):
    assert run(capsys, tree, paths=["missing_dir"])[0] == 2
    assert run(capsys, tree, "--baseline", "nope.json")[0] == 2
    assert run(capsys, tree, "--update-baseline")[0] == 2
    (tree / "bad.json").write_text("[1, 2]")
    code, _, err = run(capsys, tree, "--baseline", "bad.json")
    assert code == 2 and "not a tinyckpt-migrate baseline" in err


def test_no_suppressions_flag(tree, capsys):
    source = (tree / "pkg" / "train.py").read_text()
    (tree / "pkg" / "train.py").write_text(source.replace("PolicyStore\n", "PolicyStore  # noqa: TCK001\n", 1))
    assert "TCK001" not in run(capsys, tree)[1]
    assert "TCK001" in run(capsys, tree, "--no-suppressions")[1]


def test_baseline_reports_only_new_findings(tree, capsys):
    code, _, err = run(capsys, tree, "--write-baseline", "baseline.json")
    assert code == 0 and "recorded 3 findings" in err
    recorded = json.loads((tree / "baseline.json").read_text())["findings"]
    assert {(e["path"], e["code"]) for e in recorded} == {("pkg/train.py", c) for c in ("TCK001", "TCK002", "TCK006")}

    code, out, _ = run(capsys, tree, "--baseline", "baseline.json")
    assert code == 0 and "3 known in the baseline" in out

    train = tree / "pkg" / "train.py"
    train.write_text("import os\n\n\n" + train.read_text())  # moved down: still known
    assert run(capsys, tree, "--baseline", "baseline.json")[0] == 0

    train.write_text(train.read_text() + "\ndef again():\n    return PolicyStore()\n")
    code, out, _ = run(capsys, tree, "--baseline", "baseline.json", "--format", "json")
    assert code == 1
    assert [(f["line"], f["code"]) for f in json.loads(out)["findings"]] == [(11, "TCK002")]

    assert run(capsys, tree, "--baseline", "baseline.json", "--update-baseline")[0] == 0
    assert run(capsys, tree, "--baseline", "baseline.json")[0] == 0


def test_docs_flag(tree, capsys):
    (tree / "README.md").write_text("# Demo\n\nWe load with `PolicyStore.policy_record`.\n")
    (tree / "notes.rst").write_text("Nothing legacy.\n")
    (tree / "pkg" / "NOTES.md").write_text("from metta.agent.policy_store import PolicyStore\n")
    code, out, _ = run(capsys, tree, "--format", "json", paths=["pkg/NOTES.md"])  # named explicitly: not Python
    assert code == 0 and json.loads(out) == {"files_scanned": 0, "findings": [], "version": version()}
    (tree / "pkg" / "NOTES.md").unlink()
    code, out, _ = run(capsys, tree, "--format", "json")
    assert json.loads(out)["files_scanned"] == 4
    code, out, _ = run(capsys, tree, "--format", "json", "--docs")
    data = json.loads(out)
    assert data["files_scanned"] == 6
    assert [f for f in data["findings"] if f["code"] == "TCK200"] == [
        {"path": "README.md", "line": 3, "column": 15, "code": "TCK200", "name": "PolicyStore",
         "message": "legacy name PolicyStore in documentation"}]


def test_re_export_through_a_tree_module(tmp_path, capsys, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    write_tree(tmp_path, {
        "metta/__init__.py": "",
        "metta/rl/__init__.py": "from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager\n"
                                "from metta.rl.trainer import Trainer\n",
        "metta/rl/trainer.py": "class Trainer: ...\n",
        "tests/conftest.py": "from metta.rl import SimpleCheckpointManager, Trainer\n"
                             "def mgr() -> SimpleCheckpointManager: ...\nTrainer()\n",
        "tests/helpers.py": "from tests.conftest import SimpleCheckpointManager as M\nM()\n",  # a re-export of a re-export
    })
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, tmp_path, "--format", "json")
    assert code == 1
    found = [(f["path"], f["line"], f["code"], f["name"]) for f in json.loads(out)["findings"]]
    assert found == [
        ("metta/rl/__init__.py", 1, "TCK001", "metta.rl.simple_checkpoint_manager.SimpleCheckpointManager"),
        ("tests/conftest.py", 1, "TCK001", "metta.rl.SimpleCheckpointManager"),
        ("tests/conftest.py", 2, "TCK002", "metta.rl.SimpleCheckpointManager"),
        ("tests/helpers.py", 1, "TCK001", "tests.conftest.SimpleCheckpointManager"),
        ("tests/helpers.py", 2, "TCK002", "tests.conftest.SimpleCheckpointManager"),
    ]


def test_parallel_scan_matches_serial(tmp_path, capsys, monkeypatch):
    files = {f"m{i}.py": f"from metta.agent.policy_cache import PolicyCache\ncache{i} = PolicyCache()\n" for i in range(70)}
    files.update({f"clean{i}.py": "x = 1\n" for i in range(30)})
    write_tree(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    serial = run(capsys, tmp_path, "--format", "json", "--jobs", "1")
    parallel = run(capsys, tmp_path, "--format", "json", "--jobs", "2")
    assert serial == parallel and serial[0] == 1
    assert json.loads(serial[1])["files_scanned"] == 100 and len(json.loads(serial[1])["findings"]) == 140


def test_cli_wiring(tree, capsys):
    from codemods.cli import main

    assert main(["check", "--format", "json", "pkg"]) == 1
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 3
    assert main(["check", "pkg/clean.py"]) == 0
    assert main(["check", "no/such/path"]) == 2


def test_finding_fields_match_design():
    assert list(Finding("p", 1, 2, "TCK001", "n", "m").as_dict()) == ["path", "line", "column", "code", "name", "message"]
    assert all(code.startswith("TCK") and len(code) == 6 for code in CODES)
    assert sys.modules["codemods.check"].__doc__.count("| TCK") == len(CODES)


def test_the_marker_the_rules_write_is_found():
    from codemods.legacy import marker

    findings = check_source(f"def f():\n    {marker('decide  this')}\n    return 1\n", "m.py")
    assert [(f.code, f.line) for f in findings] == [("TCK100", 2)]


@pytest.mark.parametrize("data, kind", [
    (b"from metta.agent.policy_store import X", "strong"),
    (b"from . import mocks", "strong"),
    (b"from metta.agent import (agent,\n    mocks)", "strong"),
    (b"x = metta.agent.mocks.MockPolicyRecord", "strong"),
    (b"# tinyckpt-migrate: manual: decide", "strong"),
    (b"from metta.rl import SimpleCheckpointManager", "weak"),  # only a re-export can make this legacy
    (b"these mocks are handy; the event loop policy too", None),
    (b"import os", None),
])
def test_prefilter_classes(data, kind):
    from codemods.legacy import prefilter_for

    assert prefilter_for(Config()).classify(data) == kind


def test_legacy_module_without_any_needle_in_its_text(tmp_path, capsys, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    write_tree(tmp_path, {"metta/__init__.py": "", "metta/agent/__init__.py": "",
                          "metta/agent/policy_cache.py": "x = 1\n", "metta/agent/other.py": "y = 2\n"})
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, tmp_path)
    assert code == 1 and out.splitlines()[0] == "metta/agent/policy_cache.py:1:1: TCK007 legacy module metta.agent.policy_cache is still present"


def test_progress_callback_counts_every_file(tree, capsys):
    seen: list[tuple[str, int]] = []
    advanced: list[int] = []

    def progress(stage: str, total: int):
        seen.append((stage, total))
        return advanced.append

    parser = argparse.ArgumentParser()
    add_check_arguments(parser)
    assert run_check(parser.parse_args(["."]), find_config(tree), progress=progress) == 1
    assert seen == [("checking", 4)] and sum(advanced) == 4
    capsys.readouterr()


def test_never_raises_on_mangled_legacy_code():
    import random

    source = (Path(__file__).parent.parent / "fixtures" / "legacy_half" / "metta" / "sim" / "evaluator.py").read_text()
    rng = random.Random(1)
    for _ in range(150):
        chars = list(source)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[at:at + rng.randint(1, 8)]
            else:
                chars.insert(at, rng.choice("()[]{}:'\"#\\.,= \n\tfrom import PolicyStore"))
        found = check_source("".join(chars), "m.py", Config(), "metta.sim.evaluator")
        assert all(f.name != "internal-error" for f in found)
        assert all(f.line >= 1 and f.column >= 1 for f in found)



def test_check_and_the_shared_legacy_table_import_no_libcst():
    """`check` is the fast path CI runs on every commit: it and what it shares with the rules
    (codemods.legacy) stay free of LibCST (and of torch)."""
    code = ("import sys, codemods.check, codemods.legacy, codemods.checkpoints\n"
            "heavy = sorted(m for m in ('libcst', 'torch') if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
