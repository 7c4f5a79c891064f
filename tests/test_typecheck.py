"""A type checker as a second oracle (issue 17): basedpyright, run on a project before and after `apply`,
reports no error the migration introduced (compared by file, rule and message): a call of a method the
new class lacks, a dict where a record is expected, a name a removed import bound, a cast to a class the
value no longer is, ..."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_helpers import SIMPLE_DECISIONS, copy_example

from codemods import runner
from codemods.config import find_config

BASEDPYRIGHT = shutil.which("basedpyright", path=str(Path(sys.executable).parent)) or shutil.which("basedpyright")
pytestmark = pytest.mark.skipif(BASEDPYRIGHT is None, reason="basedpyright is in the test extra: pip install -e '.[test]'")

Error = tuple[str, str, str]  # file, rule, message
#: The same error once migrated: `state.epoch` on an Optional result becomes `state["epoch"]` (counted per file).
SAME = {"reportOptionalMemberAccess": "an Optional used unchecked", "reportOptionalSubscript": "an Optional used unchecked"}
ROOT = Path(__file__).resolve().parent.parent


def errors(root: Path) -> collections.Counter[Error]:
    """basedpyright's errors in every Python file of the project (the test's own Python and its packages,
    and this repository for tinyckpt: an editable install is an import hook a type checker cannot follow)."""
    (root / "pyrightconfig.json").write_text(json.dumps({"extraPaths": [str(ROOT)]}), encoding="utf-8")
    files = sorted(str(p) for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    done = subprocess.run([str(BASEDPYRIGHT), "--outputjson", "--level", "error", "--pythonpath", sys.executable,
                           *files], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.stdout, done.stderr
    found = json.loads(done.stdout)["generalDiagnostics"]
    return collections.Counter((Path(d["file"]).relative_to(root).as_posix(), *(
        (SAME[d["rule"]], "") if d.get("rule") in SAME else (d.get("rule", ""), d["message"])))
        for d in found if d["severity"] == "error")


def introduced(root: Path) -> list[Error]:
    """Migrate the project in place; the errors it has after that it did not have before (in files that stay)."""
    before = errors(root)
    result = runner.run([root], find_config(root), jobs=1)
    assert result.errors == []
    assert runner.apply_changes(result).errors == []
    after = errors(root)
    return sorted((after - before).elements())


@pytest.mark.parametrize(("example", "decisions"), [("legacy_full", ""), ("legacy_half", ""),
                                                    ("legacy_full", SIMPLE_DECISIONS)],
                         ids=["legacy_full", "legacy_half", "legacy_full-decided"])
def test_apply_introduces_no_type_error_in_the_examples(tmp_path: Path, example: str, decisions: str) -> None:
    found = introduced(copy_example(tmp_path, example, decisions))
    if decisions:  # TCK-M105 record-or-mock = path-or-none: no mock agent; where play has no URI it loads None
        decided = [e for e in found if e[:2] == ("tools/play.py", "reportArgumentType") and '"str | None"' in e[2]]
        assert len(decided) == 1, found
        found.remove(decided[0])
    assert found == []


def test_apply_introduces_no_type_error_in_a_generated_project(tmp_path: Path) -> None:
    """The property tests' generated legacy modules (tests/property_helpers), 40 of them in one project."""
    from test_properties import LEGACY_TREE, PATH, _draw_modules

    (tmp_path / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n", encoding="utf-8")
    sources = {PATH.replace("generated", f"generated_{i}"): m.source for i, m in enumerate(_draw_modules(40))}
    for rel, text in {**LEGACY_TREE, **sources}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert introduced(tmp_path) == []
