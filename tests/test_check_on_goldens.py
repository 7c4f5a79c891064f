"""`check` on a migrated example reports its manual sites, and only what they keep alive."""

from __future__ import annotations

import json
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
    stray = [f for f in findings if f["path"] not in kept_modules | marked_files]
    assert not stray, f"legacy references that no manual site explains: {stray}"
    # every kept legacy module is imported by a marked file or by another kept module
    for module in kept_modules:
        dotted = module.removesuffix(".py").replace("/", ".")
        importers = {f["path"] for f in findings if f["code"] == "TCK001" and dotted in f["message"]}
        assert importers & (marked_files | kept_modules), (module, importers)
