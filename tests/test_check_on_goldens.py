"""`check` on a migrated example reports its manual sites, and only what they keep alive."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codemods import cli
from codemods.legacy import MARKER_PREFIX

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("golden", ["legacy_full_expected", "legacy_half_expected"])
def test_check_reports_the_manual_sites_and_what_they_keep(golden: str, monkeypatch, capsys) -> None:
    root = FIXTURES / golden
    monkeypatch.chdir(root)
    assert cli.main(["check", "--format", "json", "."]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]

    markers = {(str(p.relative_to(root)), n) for p in root.rglob("*.py") if "__pycache__" not in p.parts
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
               if line.strip().startswith(MARKER_PREFIX)}
    assert markers, "a golden with no manual site tests nothing here"
    assert {(f["path"], f["line"]) for f in findings if f["code"] == "TCK100"} == markers

    kept_modules = {f["path"] for f in findings if f["code"] == "TCK007"}
    marked_files = {path for path, _ in markers}
    # a kept test that only tests kept legacy modules is legacy code too (unchanged, it goes with them)
    kept_tests = {str(p.relative_to(root)) for p in root.rglob("test_*.py")
                  if (FIXTURES / golden.removesuffix("_expected") / p.relative_to(root)).read_bytes() == p.read_bytes()
                  and all(f["path"] != str(p.relative_to(root)) or f["code"] == "TCK001" or f["code"] in ("TCK002", "TCK006")
                          for f in findings)}
    # a marker names the modules its manual site holds back (the rest of its unit stays legacy there)
    held = {module for path, n in markers for line in [(root / path).read_text(encoding="utf-8").splitlines()[n - 1]]
            if "holds back" in line for module in re.findall(r"[\w.]+", line.rpartition("(in ")[2])}
    explained = kept_modules | marked_files | kept_tests
    stray = [f for f in findings if f["path"] not in explained
             and f["path"].removesuffix(".py").replace("/", ".") not in held]
    assert not stray, f"legacy references that no manual site explains: {stray}"
    # every kept legacy module is imported by a marked or held-back file, or by another kept module
    for module in kept_modules:
        dotted = module.removesuffix(".py").replace("/", ".")
        importers = {f["path"] for f in findings if f["code"] == "TCK001" and dotted in f["message"]}
        assert {p for p in importers if p in explained or p.removesuffix(".py").replace("/", ".") in held}, \
            (module, importers)
