"""Flows of issue 14 that the examples show once: super() calls, a yield fixture typed by a module-level
tuple alias, functions defined in functions (followed through pool.submit, held where they are passed on)."""

from __future__ import annotations

import os
from pathlib import Path

from rule_helpers import check_rule, run_rule

from codemods import runner
from codemods.config import find_config
from codemods.legacy import MARKER_PREFIX
from codemods.rules import RULES

MAPPED = '''from concurrent.futures import ThreadPoolExecutor

from metta.agent.policy_store import PolicyStore


def main(store: PolicyStore, uris):
    def load(uri):
        return store.policy_record(uri)

    with ThreadPoolExecutor() as pool:
        futures = [pool.submit(load, uri) for uri in uris]
        return [f.result().run_name for f in futures] + [pr.run_name for pr in map(load, uris)]
'''


def test_a_function_defined_in_a_function_is_followed_through_submit_and_held_where_passed_on() -> None:
    """pool.submit(load, uri) is a call of load; map(load, uris) hands load to code this tool cannot follow:
    what load returns stays a record, with its store (a rewrite would leave map's consumers reading a str)."""
    after = MAPPED.replace("        return store", f"        {MARKER_PREFIX}a record returned from a nested function; "
                                                   "it stays a record; it holds back 2 other sites of the same record "
                                                   "(in app.main)\n        return store")
    check_rule(RULES, MAPPED, after, sites=[("manual", "policy_records", "nested function")])
    only_submit = MAPPED.replace(" + [pr.run_name for pr in map(load, uris)]", "")
    done = check_rule(RULES, only_submit, only_submit.replace(
        "from metta.agent.policy_store import PolicyStore\n", "from tinyckpt import latest_checkpoint, parse_checkpoint_path\n").replace(
        "def main(store: PolicyStore, uris):", "def main(uris):").replace(
        "return store.policy_record(uri)", "return latest_checkpoint(uri)").replace(
        "f.result().run_name", "parse_checkpoint_path(f.result())[0]"))
    assert done.error is None


FILES = {
    "pyproject.toml": '[project]\nname = "fx"\n',
    "app/__init__.py": "",
    "app/db.py": '''from metta.agent.policy_record import PolicyRecord


class DB:
    def record(self, pr: PolicyRecord) -> str:
        return pr.run_name


class SubDB(DB):
    def record(self, pr: PolicyRecord) -> str:
        name = super().record(pr)
        return name + str(pr.metadata.epoch)
''',
    "tests/conftest.py": '''from collections.abc import Iterator

import pytest

from app.db import SubDB

Env = tuple[SubDB, str]  # a database and its path


@pytest.fixture
def env(tmp_path) -> Iterator[Env]:
    db = SubDB()
    yield db, str(tmp_path)
''',
    "tests/test_db.py": '''from app.db import SubDB
from metta.agent.mocks import MockPolicyRecord


def test_record(env):
    db, _ = env
    assert isinstance(db, SubDB)
    assert db.record(MockPolicyRecord.from_key_and_version("run_a", 2)) == "run_a2"
''',
}


def test_super_calls_and_a_fixture_typed_by_a_tuple_alias(tmp_path: Path) -> None:
    """The record a test passes to db.record (db unpacked from a yield fixture typed Iterator[Env], Env a
    module-level tuple alias) reaches SubDB.record, and through super() DB.record: one unit, all migrated."""
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    legacy = Path(__file__).resolve().parent.parent / "fixtures" / "legacy_full" / "metta"
    for path in [p for p in legacy.rglob("*.py") if "agent" in p.parts] + [legacy / "__init__.py"]:
        target = tmp_path / "metta" / path.relative_to(legacy)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    result = runner.run([tmp_path], find_config(tmp_path), jobs=1)
    assert result.errors == [] and [s for s in result.manual if s.rule != runner.KEEP_RULE] == []
    new = {os.path.relpath(c.file, tmp_path): c.new_text for c in result.changes}
    assert new["app/db.py"] is not None and "PolicyRecord" not in new["app/db.py"]
    assert "return name + str(parse_checkpoint_path(pr)[1])" in new["app/db.py"]
    assert new["tests/test_db.py"] is not None and 'db.record(checkpoint_path("run_a", 2))' in new["tests/test_db.py"]


def test_an_element_of_a_returned_tuple_read_by_index_is_the_same_record() -> None:
    """`a = good(...); a[0].run_name`: the tuple's element 0 is the record `good` returns (it was left a
    record use while `good` returned a path)."""
    before = ('from metta.agent.policy_store import PolicyStore\n\n\ndef good(store: PolicyStore, uri):\n'
              '    return store.policy_record(uri, selector_type="latest"), 1.0\n\n\n'
              'def use(store: PolicyStore, uri):\n    a = good(store, uri)\n    return a[0].run_name, a[1]\n')
    after = ('from tinyckpt import latest_checkpoint, parse_checkpoint_path\n\n\ndef good(uri):\n'
             '    return latest_checkpoint(uri), 1.0\n\n\ndef use(uri):\n    a = good(uri)\n'
             '    return parse_checkpoint_path(a[0])[0], a[1]\n')
    check_rule(RULES, before, after)


ALIAS = ('from metta.agent.policy_store import PolicyStore\nfrom metta.agent.policy_record import PolicyRecord\n\n'
         'Pair = tuple[PolicyRecord, float]\n\n\ndef good(store: PolicyStore, uri) -> Pair:\n'
         '    return store.policy_record(uri, selector_type="latest"), 1.0\n\n\n'
         'def use(store: PolicyStore, uri):\n    a = good(store, uri)\n    return a[0].run_name\n')


def _alias_project(root: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in {**FILES, **files}.items():
        if name.startswith("app/") or name == "pyproject.toml":
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
    legacy = Path(__file__).resolve().parent.parent / "fixtures" / "legacy_full" / "metta"
    for path in [p for p in legacy.rglob("*.py") if "agent" in p.parts] + [legacy / "__init__.py"]:
        (root / "metta" / path.relative_to(legacy)).parent.mkdir(parents=True, exist_ok=True)
        (root / "metta" / path.relative_to(legacy)).write_bytes(path.read_bytes())
    result = runner.run([root], find_config(root), jobs=1)
    assert result.errors == []
    return {os.path.relpath(c.file, root): c.new_text or "" for c in result.changes}


def test_a_module_level_type_alias_of_records_follows_the_values_it_annotates(tmp_path: Path) -> None:
    """Only this module names the alias and every value it annotates migrates: it becomes str. Another file
    naming it (it may annotate values that stay there), or a value here that stays: it is manual."""
    alone = _alias_project(tmp_path / "alone", {"app/pairs.py": ALIAS})
    assert "Pair = tuple[str, float]\n" in alone["app/pairs.py"] and "PolicyRecord" not in alone["app/pairs.py"]
    shared = _alias_project(tmp_path / "shared", {"app/pairs.py": ALIAS, "app/other.py": "from app.pairs import Pair\n\nX: Pair\n"})
    assert "# tinyckpt-migrate: manual: type alias Pair annotates checkpoint paths here, and other files name it" \
        in shared["app/pairs.py"] and "Pair = tuple[PolicyRecord, float]" in shared["app/pairs.py"]
    mixed = ALIAS.replace("    return a[0].run_name\n", "    return a[0].run_name\n\n\ndef keep(pair: Pair):\n"
                          "    return pair[0].extract_wandb_run_info()\n")
    result = run_rule(RULES, mixed)  # keep()'s record stays, good()'s migrates: the alias cannot say both
    assert "Pair = tuple[PolicyRecord, float]" in result.new_source
    assert any(s.outcome == "manual" and "type alias Pair" in s.message for s in result.sites)
