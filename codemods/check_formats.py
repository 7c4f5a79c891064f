"""How `check` prints its findings (`text`, `json`, `github`, `sarif`) and its baseline file.

Renderers take findings whose `path` is already relative to the current directory and return
the whole output as one string.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from codemods import version
from codemods.check import CODES, ERROR_CODE, Finding

FORMATS = ("text", "json", "github", "sarif")
TOOL_NAME = "tinyckpt-migrate"
BASELINE_VERSION = 1


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(findings: Sequence[Finding], files_scanned: int, baselined: int = 0) -> str:
    """`path:line:col: CODE message` lines, then a one-line summary."""
    lines = [f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}" for f in findings]
    errors = [f for f in findings if f.code == ERROR_CODE]
    refs = [f for f in findings if f.code != ERROR_CODE]
    scanned = f"{_plural(files_scanned, 'file')} scanned"
    if refs:
        summary = (f"Found {_plural(len(refs), 'legacy reference')} in "
                   f"{_plural(len({f.path for f in refs}), 'file')} ({scanned}).")
    else:
        summary = f"No legacy references found ({scanned})."
    if baselined:
        summary += f" {baselined} known in the baseline, not reported."
    if errors:
        summary += f" {_plural(len({f.path for f in errors}), 'file')} could not be processed."
    lines.append(summary)
    return "\n".join(lines) + "\n"


def render_json(findings: Sequence[Finding], files_scanned: int) -> str:
    """`{"files_scanned": int, "findings": [{"path", "line", "column", "code", "name", "message"}], "version": str}`."""
    return json.dumps({"files_scanned": files_scanned, "findings": [f.as_dict() for f in findings],
                       "version": version()}, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: one `::error ...` annotation per finding."""
    out = []
    for f in findings:
        props = (f"file={_escape_property(f.path)},line={f.line},col={f.column},"
                 f"title={_escape_property(f.code)}")
        out.append(f"::error {props}::{_escape_data(f.message)}")
    return "".join(line + "\n" for line in out)


def render_sarif(findings: Sequence[Finding], fingerprints: Sequence[str] | None = None) -> str:
    """A minimal valid SARIF 2.1.0 log: one run, every code as a rule, one result per finding."""
    codes = sorted(CODES)
    rules = [{"id": code, "name": code, "shortDescription": {"text": CODES[code]},
              "defaultConfiguration": {"level": "error"}} for code in codes]
    results: list[dict[str, Any]] = []
    for n, f in enumerate(findings):
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code) if f.code in CODES else -1,
            "level": "error",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": quote(Path(f.path).as_posix()), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(1, f.line), "startColumn": max(1, f.column)},
            }}],
        }
        if result["ruleIndex"] < 0:
            del result["ruleIndex"]
        if fingerprints is not None:
            result["partialFingerprints"] = {"tinyckptFingerprint/v1": fingerprints[n]}
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "version": version(),
                                "informationUri": "https://pypi.org/project/tinyckpt/", "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"


# -- baseline --------------------------------------------------------------------------------------

def _baseline_path(path: str, base_dir: str) -> str:
    return Path(os.path.relpath(os.path.abspath(path), base_dir)).as_posix()


class BaselineError(ValueError):
    """The baseline file is missing or malformed."""


def write_baseline(file: str, findings: Iterable[tuple[Finding, str]]) -> int:
    """Record findings (not TCK900) with paths relative to the baseline file; returns how many."""
    base_dir = os.path.dirname(os.path.abspath(file))
    entries = sorted(
        ({"path": _baseline_path(f.path, base_dir), "code": f.code, "name": f.name, "fingerprint": fp,
          "line": f.line, "message": f.message} for f, fp in findings if f.code != ERROR_CODE),
        key=lambda e: (e["path"], e["line"], e["code"], e["name"]),
    )
    data = {"tool": f"{TOOL_NAME} check", "version": BASELINE_VERSION, "findings": entries}
    tmp = f"{file}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, file)
    return len(entries)


def read_baseline(file: str) -> list[dict[str, Any]]:
    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise BaselineError(f"baseline file {file} not found (create it with --write-baseline {file})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"cannot read baseline {file}: {exc}") from None
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("path", "code", "name", "fingerprint"))
            for e in entries):
        raise BaselineError(f"{file} is not a tinyckpt-migrate baseline")
    return entries


def filter_baseline(file: str, findings: Sequence[tuple[Finding, str]]) -> tuple[list[Finding], int]:
    """(the findings NOT in the baseline, how many were in it).

    First each finding is matched to a recorded one with the same path, code, name and
    fingerprint (so moved code still matches); the ones left then match leftover records of the
    same path, code and name (an edited line). Anything beyond the recorded counts is new.
    """
    base_dir = os.path.dirname(os.path.abspath(file))
    exact = Counter((e["path"], e["code"], e["name"], e["fingerprint"]) for e in read_baseline(file))
    unmatched: list[tuple[Finding, tuple[str, str, str]]] = []
    known = 0
    for finding, fp in findings:
        if finding.code == ERROR_CODE:
            unmatched.append((finding, ("", "", "")))
            continue
        key = (_baseline_path(finding.path, base_dir), finding.code, finding.name)
        if exact[(*key, fp)] > 0:
            exact[(*key, fp)] -= 1
            known += 1
        else:
            unmatched.append((finding, key))
    loose: Counter[tuple[str, str, str]] = Counter()
    for (path, code, name, _), count in exact.items():
        loose[(path, code, name)] += count
    new = []
    for finding, key in unmatched:
        if finding.code != ERROR_CODE and loose[key] > 0:
            loose[key] -= 1
            known += 1
        else:
            new.append(finding)
    return new, known
